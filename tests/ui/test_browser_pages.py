"""PNG Info, Settings and the extra-networks cards, used as a person would."""
from __future__ import annotations

import json
import os

import pytest
from PIL import Image, PngImagePlugin

from tests.ui.conftest import screenshot_dir, wait_until

pytestmark = pytest.mark.browser
# the tab of this group's earlier modules goes on here (module_page, tests/ui/conftest.py):
# each test sets the fields it reads
SHARED_TAB = "layout-and-tools"


def saved_checkpoint(server) -> str:
    """The checkpoint config.json names (empty while the server is part-way through writing it)."""
    try:
        return json.loads((server.data_dir / "config.json").read_text()).get("sd_model_checkpoint", "")
    except ValueError:
        return ""


def test_png_info_shows_parameters_and_sends_them_to_txt2img(module_page, tmp_path):
    picture = tmp_path / "with-parameters.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a red barn\nSteps: 6, Sampler: Euler, CFG scale: 4, Seed: 77, Size: 64x64")
    Image.new("RGB", (64, 64), (180, 20, 20)).save(picture, pnginfo=info)
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.click("#tab_pnginfo-button")
    page.locator("#pnginfo_image input[type=file]").set_input_files(str(picture))
    page.wait_for_function("() => document.querySelector('#pnginfo_html2').textContent.includes('a red barn')",
                           timeout=30000)
    text = page.inner_text("#pnginfo_html2")
    assert "parameters" in text and "Steps: 6, Sampler: Euler" in text
    page.screenshot(path=os.path.join(screenshot_dir(), "pnginfo.png"), full_page=True)
    page.click("#txt2img_tab")
    page.wait_for_function("() => document.querySelector('#txt2img_prompt textarea').value === 'a red barn'")
    page.wait_for_function("() => document.querySelector('#tab_txt2img-button').getAttribute('aria-selected') === 'true'")
    assert page.locator("#txt2img_steps input[type=number]").input_value() == "6"
    assert page.locator("#txt2img_seed input").input_value() == "77"
    assert errors == []


def test_settings_apply_writes_config_json(module_page, server):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.click("#tab_settings-button")
    page.click("#settings_nav .settings-nav-item[data-page='settings_saving-images']")
    checkbox = page.locator("#setting_grid_extended_filename input[type=checkbox]")
    assert not checkbox.is_checked()
    checkbox.check()
    page.locator("#setting_jpeg_quality input[type=number]").fill("85")
    page.locator("#setting_jpeg_quality input[type=number]").press("Enter")
    page.click("#settings_submit")
    page.wait_for_function("() => document.querySelector('#settings_result').textContent.includes('settings changed')")
    assert page.inner_text("#settings_result") == "2 settings changed: grid_extended_filename, jpeg_quality."
    saved = json.loads((server.data_dir / "config.json").read_text())
    assert saved["grid_extended_filename"] is True and saved["jpeg_quality"] == 85
    page.screenshot(path=os.path.join(screenshot_dir(), "settings.png"), full_page=True)

    page.locator("#settings_search textarea, #settings_search input").first.fill("jpeg")
    assert page.locator("#setting_jpeg_quality").is_visible()
    assert not page.locator("#setting_samples_format").is_visible()
    assert errors == []


def test_extra_networks_card_inserts_and_checkpoint_card_switches_model(module_page, server):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.click("#txt2img_checkpoints-button")
    card = page.locator("#txt2img_checkpoints_cards_html .card[data-name='tiny-b']")
    card.wait_for(timeout=30000)
    assert page.locator("#txt2img_checkpoints_cards_html .card").count() == 2
    page.locator("#txt2img_checkpoints_extra_search").fill("tiny-a")
    assert not card.is_visible()
    page.locator("#txt2img_checkpoints_extra_search").fill("")
    card.click()
    page.wait_for_function("() => document.querySelector('#setting_sd_model_checkpoint input').value.startsWith('tiny-b')",
                           timeout=60000)
    saved = json.loads((server.data_dir / "config.json").read_text())
    assert saved["sd_model_checkpoint"].startswith("tiny-b")
    page.locator("#setting_sd_model_checkpoint input").click()
    page.locator("ul[role=listbox] li", has_text="tiny-a").first.click()
    page.wait_for_function("() => document.querySelector('#setting_sd_model_checkpoint input').value.startsWith('tiny-a')")
    # the page shows the choice before the server has loaded the model and saved config.json
    assert wait_until(lambda: saved_checkpoint(server).startswith("tiny-a")), saved_checkpoint(server)
    assert errors == []


def test_dropping_a_picture_on_the_prompt_puts_its_infotext_there(module_page, tmp_path):
    import base64

    text = "a blue house\nSteps: 5, Sampler: Euler, CFG scale: 6, Seed: 3, Size: 64x64"
    picture = tmp_path / "drop.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    Image.new("RGB", (8, 8)).save(picture, pnginfo=info)
    page, errors = module_page
    # a tab switch never navigates: not waiting for navigations (the click once timed out waiting for one on a
    # saturated machine, after the previous test's checkpoint switch)
    page.click("#tab_txt2img-button", no_wait_after=True)
    page.evaluate("""(b64) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'drop.png', {type: 'image/png'}));
        const target = document.querySelector('#txt2img_prompt textarea');
        target.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""", base64.b64encode(picture.read_bytes()).decode())
    page.wait_for_function("(t) => document.querySelector('#txt2img_prompt textarea').value === t", arg=text,
                           timeout=30000)
    assert errors == []
