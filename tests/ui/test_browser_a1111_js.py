"""An extension's page script written for A1111 runs unchanged: the global callbacks (onUiLoaded, onUiUpdate,
onAfterUiUpdate, onUiTabChange, onOptionsChanged), ``opts``, the current-tab helpers and switch_to_*; and the
page translates itself from a localization an extension ships."""
from __future__ import annotations

import json

import pytest

from tests.ui.conftest import chromium_context, open_ui, require_browser, running_webui

pytestmark = pytest.mark.browser

PROBE_JS = """
window.probe = {loaded: 0, updates: 0, after: 0, tabs: [], options: []};
onUiLoaded(function() {
    window.probe.loaded += 1;
    window.probe.byId = !!gradioApp().getElementById("txt2img_prompt");
    const content = get_uiCurrentTabContent();
    window.probe.content = content ? content.id : null;
});
onUiUpdate(function(mutations) { if (Array.isArray(mutations)) window.probe.updates += 1; });
onAfterUiUpdate(function() { window.probe.after += 1; });
onUiTabChange(function() { window.probe.tabs.push(uiCurrentTab ? uiCurrentTab.textContent.trim() : null); });
onOptionsChanged(function() { window.probe.options.push(opts.samples_format); });
"""


@pytest.fixture(scope="module")
def compat_server(tmp_path_factory):
    require_browser()
    data_dir = tmp_path_factory.mktemp("compat-data")
    ext = data_dir / "extensions" / "a1111-style"
    (ext / "javascript").mkdir(parents=True)
    (ext / "javascript" / "probe.js").write_text(PROBE_JS)
    (ext / "localizations").mkdir()
    (ext / "localizations" / "xx.json").write_text(json.dumps({"Generate": "Erzeugen", "Sampling steps": "Schritte"}))
    (data_dir / "config.json").write_text(json.dumps({"localization": "xx", "samples_format": "png"}))
    with running_webui(data_dir, "--skip-load-model-at-start") as server:
        yield server


def test_a1111_page_api_and_localization(compat_server, pw_driver):
    with chromium_context(pw_driver) as context:
        page, errors = open_ui(context, compat_server)
        page.wait_for_function("() => window.probe && window.probe.options.length > 0 && window.probe.after > 0",
                               timeout=30000)
        probe = page.evaluate("() => window.probe")
        assert probe["loaded"] == 1 and probe["byId"] is True and probe["updates"] > 0
        assert probe["content"] == "tab_txt2img" and probe["tabs"][0] == "txt2img"
        assert probe["options"][-1] == "png" and page.evaluate("() => opts.localization") == "xx"

        page.wait_for_function("() => document.querySelector('#txt2img_generate').textContent.trim() === 'Erzeugen'",
                               timeout=30000)
        assert "Schritte" in page.inner_text("#txt2img_steps")
        # the img2img tab is drawn when first shown: translated then too
        page.evaluate("() => switch_to_img2img()")
        page.wait_for_function("() => window.probe.tabs.includes('img2img')", timeout=30000)
        page.wait_for_function("() => document.querySelector('#img2img_generate').textContent.trim() === 'Erzeugen'",
                               timeout=30000)
        assert page.evaluate("() => get_uiCurrentTabContent().id") == "tab_img2img"
        template = page.evaluate("() => dumpTranslations()")
        assert template["Generate"] == "Erzeugen" and template.get("Interrupt") == "Interrupt"
        assert errors == []
