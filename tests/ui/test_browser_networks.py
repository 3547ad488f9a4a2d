"""Extra networks cards in the browser: files dropped into the folders while the page is open appear after
Refresh, with their preview; a click adds ``<lora:name:1>`` / the embedding's name to the prompt and a second click
takes it out again (A1111's toggle); the search box filters, the sort reorders, and 🛠 opens the user metadata
editor with the file's fields, whose Save writes ``<stem>.json`` beside the file."""
from __future__ import annotations

import json
import os

import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

from tests.networks.lora_files import lora_tensors, write
from tests.ui.conftest import screenshot_dir, set_number

pytestmark = pytest.mark.browser
# the tab of this group's earlier modules goes on here (module_page, tests/ui/conftest.py):
# after the layout modules, which generate nothing
SHARED_TAB = "layout-and-tools"

TE_LAYER = "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight"
TOKEN_EMBEDDING = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"


def checkpoint_shape(server, key: str) -> list[int]:
    with safe_open(str(server.data_dir / "models" / "Stable-diffusion" / "tiny-a.safetensors"), "pt") as f:
        return list(f.get_slice(key).get_shape())


@pytest.fixture(scope="module")
def network_files(server):
    """Two LoRAs in kohya's key layout for the tiny SD1 text encoder (one with a preview picture and a
    description) and one textual-inversion embedding as wide as its token embeddings."""
    out_dim, in_dim = checkpoint_shape(server, TE_LAYER)
    lora_dir = server.data_dir / "models" / "Lora"
    layer = "lora_te_text_model_encoder_layers_0_self_attn_q_proj"
    first = write(str(lora_dir / "tinylora.safetensors"), lora_tensors(layer, out_dim, in_dim, 2, 1.0, seed=1),
                  {"ss_network_dim": "2", "ss_tag_frequency": json.dumps({"set": {"green": 3}})})
    Image.new("RGB", (32, 32), (10, 200, 30)).save(lora_dir / "tinylora.png")
    (lora_dir / "tinylora.txt").write_text("a tiny green lora")
    second = write(str(lora_dir / "zebra.safetensors"), lora_tensors(layer, out_dim, in_dim, 2, 1.0, seed=2))
    os.utime(second, (1_000_000_000, 1_000_000_000))  # older than the first: Date Modified sorts it first
    width = checkpoint_shape(server, TOKEN_EMBEDDING)[1]
    embeddings = server.data_dir / "embeddings"
    embeddings.mkdir(exist_ok=True)
    save_file({"emb_params": torch.randn(2, width, generator=torch.Generator().manual_seed(3))},
              str(embeddings / "tinyemb.safetensors"))
    return {"lora": first, "zebra": second, "embedding": str(embeddings / "tinyemb.safetensors")}


def open_network_page(page, page_id: str) -> None:
    """Open the extra networks page ``page_id`` of txt2img and press its refresh button."""
    page.click("#tab_txt2img-button")
    page.click(f"#txt2img_{page_id}-button")
    page.wait_for_selector(f"#txt2img_{page_id}_extra_refresh", state="visible", timeout=60000)
    page.click(f"#txt2img_{page_id}_extra_refresh")


def prompt(page) -> str:
    return page.locator("#txt2img_prompt textarea").input_value()


def visible_names(page, page_id: str) -> list[str]:
    return page.eval_on_selector_all(f"#txt2img_{page_id}_cards .card:not(.hidden)",
                                     "cards => cards.map(c => c.dataset.name)")


def test_lora_cards_appear_after_refresh_and_toggle_their_tag(module_page, network_files):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.locator("#txt2img_prompt textarea").fill("a cat")
    open_network_page(page, "lora")
    card = page.locator("#txt2img_lora_cards .card[data-name='tinylora']")
    card.wait_for(timeout=60000)
    assert page.locator("#txt2img_lora_cards .card[data-name='zebra']").count() == 1
    preview = card.locator("img.preview")
    assert "sd_extra_networks/thumb" in preview.get_attribute("src")
    page.wait_for_function("() => { const i = document.querySelector(\"#txt2img_lora_cards .card[data-name='tinylora']"
                           " img.preview\"); return i && i.complete && i.naturalWidth === 32; }", timeout=30000)
    assert "a tiny green lora" in card.inner_text()
    page.screenshot(path=os.path.join(screenshot_dir(), "extra-networks-lora.png"), full_page=True)

    card.locator(".name").click()
    assert prompt(page) == "a cat <lora:tinylora:1>"
    card.locator(".name").click()
    assert prompt(page) == "a cat"
    assert errors == []


def test_search_filters_and_sort_reorders_cards(module_page, network_files):
    page, errors = module_page
    open_network_page(page, "lora")
    page.locator("#txt2img_lora_cards .card[data-name='zebra']").wait_for(timeout=60000)
    search = page.locator("#txt2img_lora_extra_search")
    search.fill("zeb")
    assert visible_names(page, "lora") == ["zebra"]
    search.fill("")
    assert visible_names(page, "lora") == ["tinylora", "zebra"]

    page.select_option("#txt2img_lora_extra_sort", "date_modified")
    assert visible_names(page, "lora") == ["zebra", "tinylora"]
    page.click("#txt2img_lora_extra_sort_dir")
    assert visible_names(page, "lora") == ["tinylora", "zebra"]
    page.click("#txt2img_lora_extra_sort_dir")
    page.select_option("#txt2img_lora_extra_sort", "name")
    assert visible_names(page, "lora") == ["tinylora", "zebra"]
    assert errors == []


def test_embedding_card_inserts_and_removes_its_name(module_page, network_files):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.locator("#txt2img_prompt textarea").fill("a dog")
    open_network_page(page, "textual_inversion")
    card = page.locator("#txt2img_textual_inversion_cards .card[data-name='tinyemb']")
    card.wait_for(timeout=60000)
    card.locator(".name").click()
    assert prompt(page) == "a dog tinyemb"
    card.locator(".name").click()
    assert prompt(page) == "a dog"
    assert errors == []


def test_edit_button_opens_user_metadata_and_save_writes_json(module_page, network_files):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.locator("#txt2img_prompt textarea").fill("")
    open_network_page(page, "lora")
    card = page.locator("#txt2img_lora_cards .card[data-name='tinylora']")
    card.wait_for(timeout=60000)
    card.hover()
    card.locator(".edit-button").click()
    editor = page.locator("#txt2img_lora_edit_user_metadata")
    editor.wait_for(state="visible", timeout=30000)
    info = editor.locator(".file-info").inner_text()
    assert "tinylora.safetensors" in info
    assert str(os.path.getsize(network_files["lora"])) in info.replace(",", "")
    assert editor.locator("textarea[name=description]").input_value() == "a tiny green lora"
    assert prompt(page) == "", "the edit button does not insert the card's text"
    page.screenshot(path=os.path.join(screenshot_dir(), "extra-networks-metadata-editor.png"), full_page=True)

    editor.locator("textarea[name=description]").fill("edited description")
    editor.locator("input[name='activation text']").fill("green style")
    editor.locator("input[name='preferred weight']").fill("0.7")
    editor.locator("button.save").click()
    editor.wait_for(state="hidden", timeout=30000)
    with open(network_files["lora"].replace(".safetensors", ".json"), encoding="utf8") as f:
        saved = json.load(f)
    assert saved["description"] == "edited description"
    assert saved["activation text"] == "green style" and float(saved["preferred weight"]) == 0.7

    # the card now inserts the preferred weight and the activation text, as A1111 does
    page.locator("#txt2img_lora_cards .card[data-name='tinylora']").wait_for(timeout=30000)
    page.wait_for_function("() => document.querySelector(\"#txt2img_lora_cards .card[data-name='tinylora']\")"
                           ".textContent.includes('edited description')", timeout=30000)
    page.locator("#txt2img_lora_cards .card[data-name='tinylora'] .name").click()
    assert prompt(page) == "<lora:tinylora:0.7> green style"
    assert errors == []


def test_metadata_button_shows_the_files_own_metadata(module_page, network_files):
    page, errors = module_page
    open_network_page(page, "lora")
    card = page.locator("#txt2img_lora_cards .card[data-name='tinylora']")
    card.wait_for(timeout=60000)
    assert page.locator("#txt2img_lora_cards .card[data-name='zebra'] .metadata-button").count() == 0, \
        "no metadata in the file: no button"
    card.hover()
    card.locator(".metadata-button").click()
    popup = page.locator("#txt2img_lora_metadata_popup")
    popup.wait_for(state="visible", timeout=30000)
    text = popup.locator("table.file-metadata").inner_text()
    assert "ss_network_dim" in text and "green" in text
    popup.locator("button").click()
    popup.wait_for(state="detached", timeout=30000)
    assert errors == []


def test_replace_preview_takes_the_selected_gallery_picture(module_page, network_files):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.locator("#tab_txt2img").get_by_role("tab", name="Generation").click()
    page.locator("#txt2img_prompt textarea").fill("a zebra")
    for elem_id, number in (("txt2img_steps", 1), ("txt2img_width", 64), ("txt2img_height", 64)):
        set_number(page, elem_id, number)
    page.click("#txt2img_generate")
    page.wait_for_selector("#txt2img_gallery img", timeout=120000)
    page.wait_for_function("() => document.querySelector('#html_info_txt2img').textContent.includes('a zebra')",
                           timeout=120000)
    zebra_png = network_files["zebra"].replace(".safetensors", ".png")
    assert not os.path.exists(zebra_png)

    open_network_page(page, "lora")
    card = page.locator("#txt2img_lora_cards .card[data-name='zebra']")
    card.wait_for(timeout=60000)
    assert card.locator("img.preview").count() == 0
    card.hover()
    card.locator(".edit-button").click()
    editor = page.locator("#txt2img_lora_edit_user_metadata")
    editor.wait_for(state="visible", timeout=30000)
    editor.locator("button.replace-preview").click()
    editor.wait_for(state="detached", timeout=60000)
    saved = Image.open(zebra_png)
    assert saved.size == (64, 64) and "a zebra" in saved.info.get("parameters", "")
    page.wait_for_selector("#txt2img_lora_cards .card[data-name='zebra'] img.preview", timeout=60000)
    assert errors == []


def test_lora_editor_lists_training_tags_and_makes_a_random_prompt(module_page, network_files):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    open_network_page(page, "lora")
    card = page.locator("#txt2img_lora_cards .card[data-name='tinylora']")
    card.wait_for(timeout=60000)
    card.hover()
    card.locator(".edit-button").click()
    editor = page.locator("#txt2img_lora_edit_user_metadata")
    editor.wait_for(state="visible", timeout=30000)
    assert editor.locator(".training-tag").all_inner_texts() == ["green (3)"]
    activation = editor.locator("input[name='activation text']")
    editor.locator("button.random-prompt").click()
    assert activation.input_value() == "green", "the most frequent tag is always picked"
    editor.locator(".training-tag").click()
    assert activation.input_value() == "green, green"
    editor.locator("button.cancel").click()
    editor.wait_for(state="detached", timeout=30000)
    assert errors == []
