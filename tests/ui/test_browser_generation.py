"""A person at the page: type a prompt, Generate, see the picture and its infotext; paste, send to img2img, save."""
from __future__ import annotations

import os

import pytest

from tests.ui.conftest import screenshot_dir, set_number

pytestmark = pytest.mark.browser
# the tab of this group's earlier modules goes on here (module_page, tests/ui/conftest.py):
# after test_browser_bracket_checker, which only types prompts: no picture anywhere yet
SHARED_TAB = "prompts-and-generation"

INFOTEXT = ("a dog in the snow\nNegative prompt: ugly\nSteps: 4, Sampler: Euler a, Schedule type: Karras, "
            "CFG scale: 5.5, Seed: 1234, Size: 64x96, Clip skip: 2")


def value(page, selector: str) -> str:
    return page.locator(selector).input_value()


def test_generate_without_a_picture_is_a_message_not_a_traceback(module_page):
    page, errors = module_page
    page.click("#tab_img2img-button")
    page.locator("#img2img_prompt textarea").fill("a cat")
    page.click("#img2img_generate")
    page.wait_for_selector("#html_log_img2img .error", timeout=60000)
    assert "No picture" in page.inner_text("#html_log_img2img")
    assert "Traceback" not in page.content()
    page.wait_for_function("() => !document.querySelector('#img2img_generate_box').classList.contains('generating')")
    assert errors == []


def test_type_a_prompt_generate_and_see_picture_and_infotext(module_page, server):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.locator("#txt2img_prompt textarea").fill("a photo of a cat")
    for elem_id, number in (("txt2img_steps", 3), ("txt2img_width", 64), ("txt2img_height", 64)):
        set_number(page, elem_id, number)
    page.wait_for_function("() => document.querySelector('#txt2img_token_counter').textContent.trim() === '5/75'")
    page.click("#txt2img_generate")
    page.wait_for_selector("#txt2img_gallery img", timeout=60000)
    page.wait_for_function("() => document.querySelector('#html_info_txt2img').textContent.includes('Steps: 3')")
    info = page.inner_text("#html_info_txt2img")
    assert info.startswith("a photo of a cat") and "Size: 64x64" in info and "Model: tiny-a" in info
    assert "Time taken" in page.inner_text("#html_log_txt2img")
    page.screenshot(path=os.path.join(screenshot_dir(), "txt2img-after-generate.png"), full_page=True)
    saved = os.listdir(server.data_dir / "outputs" / "txt2img-images")
    assert saved, "the picture is saved as setting samples_save says"
    assert errors == []


def test_paste_fills_the_fields_and_send_to_img2img_then_generate(module_page, server):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.locator("#txt2img_prompt textarea").fill(INFOTEXT)
    page.click("#tab_txt2img #paste")
    page.wait_for_function("() => document.querySelector('#txt2img_prompt textarea').value === 'a dog in the snow'")
    assert value(page, "#txt2img_neg_prompt textarea") == "ugly"
    assert value(page, "#txt2img_steps input[type=number]") == "4"
    assert value(page, "#txt2img_sampling input") == "Euler a"
    assert value(page, "#txt2img_scheduler input") == "Karras"
    assert value(page, "#txt2img_cfg_scale input[type=number]") == "5.5"
    assert value(page, "#txt2img_seed input") == "1234"
    assert (value(page, "#txt2img_width input[type=number]"), value(page, "#txt2img_height input[type=number]")) == \
        ("64", "96")
    assert "Clip skip: 2" in page.inner_text("#txt2img_override_settings")

    page.click("#txt2img_generate")
    page.wait_for_function("() => document.querySelector('#html_info_txt2img').textContent.includes('Seed: 1234')",
                           timeout=60000)
    info = page.inner_text("#html_info_txt2img")
    assert "Size: 64x96" in info and "Clip skip: 2" in info and "Sampler: Euler a" in info

    page.click("#txt2img_send_to_img2img")
    page.wait_for_selector("#img2img_image img", timeout=30000)
    page.wait_for_function("() => document.querySelector('#tab_img2img-button').getAttribute('aria-selected') === 'true'")
    assert value(page, "#img2img_prompt textarea") == "a dog in the snow"
    assert (value(page, "#img2img_width input[type=number]"), value(page, "#img2img_height input[type=number]")) == \
        ("64", "96")
    set_number(page, "img2img_steps", 3)
    page.click("#img2img_generate")
    page.wait_for_function("() => document.querySelector('#html_info_img2img').textContent.includes('Denoising strength')",
                           timeout=60000)
    assert "Size: 64x96" in page.inner_text("#html_info_img2img")
    page.screenshot(path=os.path.join(screenshot_dir(), "img2img-after-generate.png"), full_page=True)

    page.click("#tab_txt2img-button")
    page.click("#save_txt2img")
    page.wait_for_function("() => document.querySelector('#html_log_txt2img').textContent.includes('Saved:')")
    assert "log.csv" in os.listdir(server.data_dir / "log" / "images")
    assert errors == []
