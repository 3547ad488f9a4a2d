"""An extension's page script written for A1111 runs unchanged: the global callbacks (onUiLoaded, onUiUpdate,
onAfterUiUpdate, onUiTabChange, onOptionsChanged), ``opts``, the current-tab helpers and switch_to_*; and the
page translates itself from a localization an extension ships."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_a1111_page_api_and_localization(extensions_page):
    """The probe extension (tests/ui/extension_files.py: PROBE_JS, localization xx) on the extensions server."""
    # the page as loaded: this module runs first of the extensions page's users (alphabetical order)
    page, errors = extensions_page
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
