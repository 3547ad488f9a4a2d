"""Settings > Reload UI rebuilds the page in the same process: a script added since start-up appears, the
server's process and port stay, and the page loads again by itself."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import urllib.error
import urllib.request

import pytest

from tests.ui.conftest import BROWSER_ARGS, CHROMIUM, ROOT, Server, free_port, wait_for

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


@pytest.fixture(scope="module")
def reload_server(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    data_dir = tmp_path_factory.mktemp("reload-data")
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    env.pop("COMMANDLINE_ARGS", None)
    log = open(data_dir / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "webui.py", "--data-dir", str(data_dir), "--port", str(port),
                             "--skip-prepare-environment", "--skip-load-model-at-start"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        yield Server(data_dir, port, proc)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def probe_status(server: Server) -> int:
    try:
        with urllib.request.urlopen(server.url + "reload-probe", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_reload_ui_loads_a_new_extension_in_the_same_process(reload_server):
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="webui-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                        args=BROWSER_ARGS, viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(reload_server.url)
            page.wait_for_function("() => window.webuiAssetsLoaded === true", timeout=60000)
            assert probe_status(reload_server) == 404
            assert page.locator("#script_txt2img_reload_probe_enabled").count() == 0

            folder = reload_server.data_dir / "extensions" / "reload-probe" / "scripts"
            folder.mkdir(parents=True)
            (folder / "probe.py").write_text(textwrap.dedent(PROBE))

            page.click("#tab_settings-button")
            with page.expect_navigation(timeout=120000):
                page.click("#settings_restart_gradio")
                page.wait_for_selector("#webui_reloading", timeout=10000)
            page.wait_for_function("() => window.webuiAssetsLoaded === true", timeout=60000)
            page.wait_for_selector("#script_txt2img_reload_probe_enabled", state="attached", timeout=30000)
            assert probe_status(reload_server) == 200
            assert reload_server.proc.poll() is None, "the same process serves the rebuilt page"
            assert "Reloading the UI" in reload_server.log()
            assert errors == []
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
