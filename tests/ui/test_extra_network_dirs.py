"""Extra networks pages: folder buttons and the tree view, hidden folders, the SD-version filter of the Lora page,
and the ``cover-images`` / ``get-single-card`` routes (SPEC 9.4), on LoRA files written in a fresh data dir."""
from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import sys
import types

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file


def write_lora(folder: str, name: str, metadata: dict[str, str] | None = None) -> str:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.safetensors")
    save_file({"lora_unet_x.lora_up.weight": torch.zeros(1, 1)}, path, metadata=metadata)
    return path


def png_base64(color) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def loras(started):
    """The bootstrap without a model; LoRAs: ``top`` (SD1), ``sub/inner`` (SDXL), ``sub/deep/deeper`` (no metadata:
    Unknown), ``.secret/hidden`` (SD2) and ``sub/cover`` (SD1 with two cover images in its metadata)."""
    started("--skip-load-model-at-start")
    if "networks" not in sys.modules:
        pytest.skip("the built-in Lora extension is not loaded")
    from modules import shared

    root = shared.cmd_opts.lora_dir
    write_lora(root, "top", {"ss_network_dim": "4"})
    write_lora(os.path.join(root, "sub"), "inner", {"ss_base_model_version": "sdxl_base_v1-0"})
    write_lora(os.path.join(root, "sub", "deep"), "deeper")
    write_lora(os.path.join(root, ".secret"), "hidden", {"ss_v2": "True"})
    covers = json.dumps([png_base64((250, 0, 0)), png_base64((0, 0, 250))])
    write_lora(os.path.join(root, "sub"), "cover", {"ss_network_dim": "4", "ssmd_cover_images": covers})
    os.makedirs(os.path.join(root, "empty"))
    sys.modules["networks"].list_available_networks()
    return shared


def lora_page():
    from modules.ui.extra_network_pages import builtin_pages

    return next(p for p in builtin_pages() if p.id_page == "lora")


def card_attrs(text: str) -> dict[str, dict[str, str]]:
    """data-name -> the card's data- attributes."""
    cards = {}
    for match in re.finditer(r"<div class='card' ([^>]*)>", text):
        attrs = dict(re.findall(r"(data-[a-z-]+)='([^']*)'", match.group(1)))
        cards[attrs["data-name"]] = attrs
    return cards


def test_dir_buttons_list_the_folders_and_cards_know_their_folder(loras):
    from modules.ui.extra_network_cards import page_html

    html = page_html("txt2img", lora_page())
    buttons = re.findall(r"class='extra-network-dir-button[^']*' data-dir='([^']*)'>([^<]*)<", html)
    assert buttons == [("", "all"), (".secret", ".secret/"), ("empty", "empty/"), ("sub", "sub/"),
                       ("sub/deep", "sub/deep/")]
    cards = card_attrs(html)
    assert cards["inner"]["data-dir"] == "sub" and cards["deeper"]["data-dir"] == "sub/deep"
    assert cards["top"]["data-dir"] == "" and "lora/sub/deep/deeper.safetensors" in cards["deeper"]["data-search"]
    assert "id='txt2img_lora_extra_tree_view'" in html and "extra-network-tree'" not in html
    # A1111's '/' prefix: a button finds only the folders whose name starts there
    loras.opts.set("extra_networks_dir_button_function", True)
    html = page_html("txt2img", lora_page())
    assert ">/sub/deep/<" in html and "data-exact='true'" in html
    # hidden folders out of the view
    loras.opts.set("extra_networks_show_hidden_directories", False)
    assert ".secret" not in "".join(re.findall(r"data-dir='([^']*)'>", page_html("txt2img", lora_page())))


def test_tree_view_nests_folders_and_files_at_the_set_width(loras):
    from modules.ui.extra_network_cards import page_html

    loras.opts.set("extra_networks_tree_view_style", "Tree")
    loras.opts.set("extra_networks_tree_view_default_width", 250)
    loras.opts.set("extra_networks_tree_view_default_enabled", False)
    html = page_html("img2img", lora_page())
    tree = re.search(r"<div class='extra-network-tree hidden' id='img2img_lora_tree' style='width: 250px;'>(.*?)"
                     r"</div><div class='extra-network-cards'", html).group(1)
    # sub holds deep (holding deeper), then its own files; the root's files come after the root's folders
    order = re.findall(r"data-(dir|name)='([^']*)'", tree)
    assert order == [("dir", ".secret"), ("name", "hidden"), ("dir", "empty"), ("dir", "sub"), ("dir", "sub/deep"),
                     ("name", "deeper"), ("name", "cover"), ("name", "inner"), ("name", "top")]
    assert "extra-network-dirs" not in html


@pytest.mark.parametrize("rule, shown, search_only", [("Always", True, "false"), ("When searched", True, "true"),
                                                      ("Never", False, None)])
def test_hidden_folder_cards_follow_the_hidden_models_setting(loras, rule, shown, search_only):
    from modules.ui.extra_network_cards import page_html

    loras.opts.set("extra_networks_hidden_models", rule)
    cards = card_attrs(page_html("txt2img", lora_page()))
    assert ("hidden" in cards) is shown
    if shown:
        assert cards["hidden"]["data-search-only"] == search_only
    assert cards["inner"]["data-search-only"] == "false"


@pytest.mark.parametrize("family, expected", [
    ("SD1", {"top", "cover", "deeper"}),
    ("SD2", {"hidden", "deeper"}),
    ("SDXL", {"inner", "deeper"}),
])
def test_lora_page_hides_networks_of_other_versions(loras, monkeypatch, family, expected):
    from modules.core.services import current_services
    from modules.ui.extra_network_pages import lora_items

    model = types.SimpleNamespace(is_sdxl=family == "SDXL", is_sd2=family == "SD2", is_sd1=family == "SD1")
    monkeypatch.setattr(current_services(), "sd_model", model)
    assert {i.name for i in lora_items()} == expected
    loras.opts.set("lora_hide_unknown_for_versions", [family])
    assert {i.name for i in lora_items()} == expected - {"deeper"}
    loras.opts.set("lora_show_all", True)
    assert {i.name for i in lora_items()} == {"top", "cover", "deeper", "hidden", "inner"}


def test_sd_version_chosen_in_the_editor_wins_over_the_detected_one(loras, monkeypatch):
    from modules.core.services import current_services
    from modules.ui.extra_network_pages import find_item, lora_items, save_user_metadata

    monkeypatch.setattr(current_services(), "sd_model", types.SimpleNamespace(is_sdxl=True, is_sd2=False))
    assert "top" not in {i.name for i in lora_items()}
    page, item = find_item("lora", "top")  # found although the filter hides it
    save_user_metadata(page, item, {"sd version": "SDXL"})
    assert {i.name: i.sd_version for i in lora_items()}["top"] == "SDXL"
    monkeypatch.setattr(current_services(), "sd_model", types.SimpleNamespace(is_sdxl=False, is_sd2=False))
    assert "top" not in {i.name for i in lora_items()}


def test_cover_images_route_and_card(loras):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from modules.server.internal_routes import add_internal_routes
    from modules.ui.extra_network_cards import page_html

    app = FastAPI()
    add_internal_routes(None, app)
    client = TestClient(app)
    answer = client.get("/sd_extra_networks/cover-images", params={"page": "lora", "item": "cover", "index": 1})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(answer.content)).getpixel((0, 0)) == (0, 0, 250)
    for params in ({"page": "lora", "item": "cover", "index": 2}, {"page": "lora", "item": "top"},
                   {"page": "lora", "item": "nothing"}, {"page": "nope", "item": "cover"}):
        assert client.get("/sd_extra_networks/cover-images", params=params).status_code == 404
    # a card without a preview file shows its first cover image
    page = page_html("txt2img", lora_page())
    assert "./sd_extra_networks/cover-images?page=lora&amp;item=cover&amp;index=0" in page
    assert "cover-images?page=lora&amp;item=top" not in page


def test_get_single_card_draws_one_card_even_when_filtered(loras, monkeypatch):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from modules.core.services import current_services
    from modules.server.internal_routes import add_internal_routes

    monkeypatch.setattr(current_services(), "sd_model", types.SimpleNamespace(is_sdxl=True, is_sd2=False))
    app = FastAPI()
    add_internal_routes(None, app)
    client = TestClient(app)
    answer = client.get("/sd_extra_networks/get-single-card", params={"page": "lora", "tabname": "img2img",
                                                                        "name": "top"})
    assert answer.status_code == 200
    cards = card_attrs(answer.json()["html"])
    assert list(cards) == ["top"] and html.unescape(cards["top"]["data-prompt"]) == '"<lora:top:1>"'
    assert client.get("/sd_extra_networks/get-single-card", params={"page": "lora", "tabname": "img2img",
                                                                      "name": "missing"}).status_code == 404
    assert client.get("/sd_extra_networks/get-single-card", params={"page": "lora", "tabname": "<x>",
                                                                      "name": "top"}).status_code == 400
