"""Settings > Reload UI rebuilds the page in the same process: a script added since start-up appears, the
server's process and port stay, and the page loads again by itself."""
from __future__ import annotations

import textwrap
import urllib.error
import urllib.request

import pytest

from tests.ui.conftest import Server

pytestmark = pytest.mark.browser

PROBE = """
    import modules.scripts as scripts
    from modules import script_callbacks


    class ReloadProbe(scripts.Script):
        def title(self):
            return "Reload probe"

        def show(self, is_img2img):
            return scripts.AlwaysVisible

        def ui(self, is_img2img):
            import gradio as gr

            return [gr.Checkbox(label="Reload probe", elem_id=self.elem_id("enabled"))]


    def add_route(demo, app):
        app.add_api_route("/reload-probe", lambda: {"loaded": True}, methods=["GET"])


    script_callbacks.on_app_started(add_route)
"""


def probe_status(server: Server) -> int:
    try:
        with urllib.request.urlopen(server.url + "reload-probe", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_reload_ui_loads_a_new_extension_in_the_same_process(extensions_server, extensions_page):
    """On the session's extensions server (tests/ui/conftest.py), after the other extension tests."""
    reload_server = extensions_server
    page, errors = extensions_page
    assert probe_status(reload_server) == 404
    assert page.locator("#script_txt2img_reload_probe_enabled").count() == 0

    folder = reload_server.data_dir / "extensions" / "reload-probe" / "scripts"
    folder.mkdir(parents=True)
    (folder / "probe.py").write_text(textwrap.dedent(PROBE))

    log_before = len(reload_server.log())
    page.click("#tab_settings-button")
    with page.expect_navigation(timeout=120000):
        page.click("#settings_restart_gradio")
        page.wait_for_selector("#webui_reloading", timeout=10000)
    page.wait_for_function("() => window.webuiAssetsLoaded === true", timeout=60000)
    page.wait_for_selector("#script_txt2img_reload_probe_enabled", state="attached", timeout=30000)
    assert probe_status(reload_server) == 200
    assert reload_server.proc.poll() is None, "the same process serves the rebuilt page"
    assert "Reloading the UI" in reload_server.log()[log_before:]
    assert errors == []
