"""The built-in "mobile" extension: on a narrow window the results column goes under the settings and the
Generate box moves to its top."""
from __future__ import annotations

import os

import pytest

from tests.ui.conftest import screenshot_dir

pytestmark = pytest.mark.browser
# the tab of this group's earlier modules goes on here (module_page, tests/ui/conftest.py):
# it only resizes the window, and puts it back
SHARED_TAB = "layout-and-tools"


def boxes(page, tab: str) -> dict:
    return page.evaluate(f"""() => {{
        const rect = id => {{ const r = document.getElementById(id).getBoundingClientRect();
                             return {{left: r.left, top: r.top, right: r.right, bottom: r.bottom}}; }};
        const box = document.getElementById('{tab}_generate_box');
        return {{settings: rect('{tab}_settings'), results: rect('{tab}_results'), generate: rect('{tab}_generate_box'),
                 in_results: document.getElementById('{tab}_results').contains(box),
                 in_actions: document.getElementById('{tab}_actions_column').contains(box),
                 mobile: document.getElementById('{tab}_results').classList.contains('mobile')}};
    }}""")


def wait_placed(page, tab: str, where: str) -> None:
    page.wait_for_function(f"() => document.getElementById('{where}').contains("
                           f"document.getElementById('{tab}_generate_box'))", timeout=10000)


@pytest.mark.parametrize("tab", ["txt2img", "img2img"])
def test_narrow_window_stacks_results_under_settings(module_page, tab):
    page, errors = module_page
    try:
        check_narrow_and_wide(page, tab)
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})  # the module's next test starts wide
    assert errors == []


def check_narrow_and_wide(page, tab: str) -> None:
    page.click(f"#tab_{tab}-button")
    page.wait_for_selector(f"#{tab}_results")
    wide = boxes(page, tab)
    assert wide["results"]["left"] >= wide["settings"]["right"] - 1  # side by side
    assert wide["in_actions"] and not wide["mobile"]

    page.set_viewport_size({"width": 500, "height": 900})
    wait_placed(page, tab, f"{tab}_results")
    narrow = boxes(page, tab)
    assert narrow["results"]["top"] >= narrow["settings"]["bottom"] - 1  # the gallery column comes after the settings
    assert abs(narrow["results"]["left"] - narrow["settings"]["left"]) <= 1
    assert narrow["results"]["right"] <= 500 and narrow["settings"]["right"] <= 500
    assert narrow["mobile"] and not narrow["in_actions"]
    # Generate sits at the top of the results column
    assert narrow["results"]["top"] - 1 <= narrow["generate"]["top"] < narrow["results"]["top"] + 40
    page.screenshot(path=os.path.join(screenshot_dir(), f"mobile-{tab}.png"), full_page=True)

    page.set_viewport_size({"width": 1400, "height": 1000})
    wait_placed(page, tab, f"{tab}_actions_column")
    back = boxes(page, tab)
    assert back["results"]["left"] >= back["settings"]["right"] - 1 and not back["mobile"]
