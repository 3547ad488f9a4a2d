"""The txt2img and img2img tabs laid out as A1111 v1.10 users know them (/work/shared/a1111-screens): full-page
screenshots are saved for a person to compare, and the layout facts a user would notice are measured: the order
of the settings, the gallery on the right of them, closed accordions, a wide Generate beside small tool buttons,
no empty bands, no slider decorations A1111 lacks."""
from __future__ import annotations

import os

import pytest

from tests.ui.conftest import screenshot_dir

pytestmark = pytest.mark.browser
# the tab of this group's earlier modules goes on here (module_page, tests/ui/conftest.py):
# first of its group: the page as loaded, for the screenshots
SHARED_TAB = "layout-and-tools"


def box(page, selector: str) -> dict:
    found = page.locator(selector).first
    found.wait_for(state="visible", timeout=30000)
    return found.bounding_box()


def assert_top_to_bottom(page, selectors: list[str]) -> None:
    tops = [box(page, s)["y"] for s in selectors]
    assert tops == sorted(tops), dict(zip(selectors, tops))


def assert_gallery_right_of_settings(page, tab: str) -> None:
    settings, gallery = box(page, f"#{tab}_settings"), box(page, f"#{tab}_gallery")
    viewport = page.viewport_size["width"]
    assert gallery["x"] >= settings["x"] + settings["width"], "the gallery is beside the settings, not under them"
    # A1111 splits the row about in half: the gallery starts near the middle of the page
    assert 0.4 * viewport < gallery["x"] < 0.6 * viewport
    assert abs(gallery["y"] - settings["y"]) < 60, "the gallery starts level with the settings"


def assert_gallery_buttons_centred(page, tab: str) -> None:
    """A1111: the 📂 💾 🗃️ 🖼️ 🎨️ 📐 ✨ buttons are separate small buttons, centred under the gallery."""
    gallery = box(page, f"#{tab}_gallery")
    buttons = [b.bounding_box() for b in page.locator(f"#image_buttons_{tab} button:visible").all()]
    assert len(buttons) >= 6
    left, right = buttons[0]["x"], buttons[-1]["x"] + buttons[-1]["width"]
    assert abs((left + right) / 2 - (gallery["x"] + gallery["width"] / 2)) < 20
    assert all(b["width"] < 60 for b in buttons)
    assert all(nxt["x"] - (cur["x"] + cur["width"]) >= 2 for cur, nxt in zip(buttons, buttons[1:]))


def assert_generate_row(page, tab: str) -> None:
    generate = box(page, f"#{tab}_generate")
    paste = box(page, "#paste" if tab == "txt2img" else f"#tab_{tab} #paste")
    prompt = box(page, f"#{tab}_prompt")
    assert generate["x"] > prompt["x"] + prompt["width"], "Generate is right of the prompt"
    assert generate["width"] > 4 * paste["width"] and paste["width"] < 60, "a wide Generate over small tool buttons"


def test_txt2img_layout_matches_a1111(module_page):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.wait_for_timeout(500)
    page.screenshot(path=os.path.join(screenshot_dir(), "txt2img.png"), full_page=True)
    assert_top_to_bottom(page, ["#txt2img_prompt", "#txt2img_neg_prompt", "#txt2img_extra_tabs",
                                "#sampler_selection_txt2img", "#txt2img_hr", "#txt2img_width", "#txt2img_height",
                                "#txt2img_cfg_scale", "#txt2img_seed", "#txt2img_script_container"])
    # Hires. fix and Refiner side by side, both closed
    hires, refiner = box(page, "#txt2img_hr"), box(page, "#txt2img_enable")
    assert abs(hires["y"] - refiner["y"]) < 5 and refiner["x"] > hires["x"]
    assert not page.locator("#txt2img_hr_upscaler").is_visible()
    # Width/Height with the swap button between them and Batch count/size on the right
    width, swap, batch = box(page, "#txt2img_width"), box(page, "#txt2img_res_switch_btn"), \
        box(page, "#txt2img_batch_count")
    assert width["x"] < swap["x"] < batch["x"] and abs(width["y"] - batch["y"]) < 20
    # no empty band between the accordions and the size sliders
    assert width["y"] - (hires["y"] + hires["height"]) < 40
    # sampler, schedule type and steps on one row
    rows = {box(page, s)["y"] for s in ("#txt2img_sampling", "#txt2img_scheduler")}
    assert max(rows) - min(rows) < 5
    assert_gallery_right_of_settings(page, "txt2img")
    assert_gallery_buttons_centred(page, "txt2img")
    assert_generate_row(page, "txt2img")
    assert page.locator("#txt2img_settings .reset-button:visible").count() == 0
    assert page.locator("#txt2img_settings .min_value:visible").count() == 0
    assert errors == []


def test_img2img_layout_matches_a1111(module_page):
    page, errors = module_page
    page.click("#tab_img2img-button")
    page.click("#img2img_img2img_tab-button")
    page.wait_for_timeout(500)
    page.screenshot(path=os.path.join(screenshot_dir(), "img2img.png"), full_page=True)
    assert_top_to_bottom(page, ["#img2img_prompt", "#img2img_extra_tabs", "#mode_img2img", "#img2img_image",
                                "#resize_mode", "#sampler_selection_img2img", "#img2img_width",
                                "#img2img_cfg_scale", "#img2img_denoising_strength", "#img2img_seed"])
    tabs = page.eval_on_selector_all("#mode_img2img > .tab-wrapper button[role=tab], #mode_img2img button[role=tab]",
                                     "els => els.map(e => e.textContent.trim())")
    assert tabs[:6] == ["img2img", "Sketch", "Inpaint", "Inpaint sketch", "Inpaint upload", "Batch"]
    # the inpaint settings show only in the inpaint modes
    assert not page.locator("#img2img_mask_blur").is_visible()
    page.click("#img2img_inpaint_tab-button")
    page.locator("#img2img_mask_blur").wait_for(state="visible", timeout=30000)
    page.click("#img2img_img2img_tab-button")
    assert_gallery_right_of_settings(page, "img2img")
    assert_gallery_buttons_centred(page, "img2img")
    assert_generate_row(page, "img2img")
    assert page.locator("#img2img_settings .reset-button:visible").count() == 0
    assert errors == []
