"""LoRA in real generations on a tiny SD1 checkpoint: pictures with, without and after a LoRA,
switching sets, multipliers, infotext hashes, and broken inputs that must not stop a generation."""
from __future__ import annotations

import logging

import pytest

from modules.core.hashing import calculate_addnet_hash
from modules.processing import StableDiffusionProcessingTxt2Img, process_images
from tests.networks.lora_files import kohya_names, lora_for_layers, write


def txt2img(prompt: str, **kw):
    args = dict(prompt=prompt, negative_prompt="", steps=2, width=64, height=64, seed=7, sampler_name="Euler",
                do_not_save_samples=True, do_not_save_grid=True)
    args.update(kw)
    return process_images(StableDiffusionProcessingTxt2Img(**args))


def pixels(result) -> bytes:
    return result.images[0].tobytes()


@pytest.fixture
def lora_app(app, data_dir):
    """Start the app and write two LoRAs for its model: ``one`` (alias ``first``) and ``two``."""
    def start():
        shared = app()
        from modules.networks.lora.layer_index import build_layer_index

        index = build_layer_index(shared.sd_model)
        names = kohya_names(index)
        folder = data_dir / "models" / "Lora"
        write(str(folder / "one.safetensors"), lora_for_layers(index, names, seed=1, scale=0.3),
              {"ss_output_name": "first", "ss_sd_model_name": "tiny"})
        write(str(folder / "sub" / "two.safetensors"), lora_for_layers(index, names, seed=50, scale=0.3))
        return shared

    return start


def test_with_and_after_a_lora_and_switching_sets_match_fresh_starts(lora_app):
    lora_app()
    plain = pixels(txt2img("a cat"))
    lora_app()
    with_one = pixels(txt2img("a cat <lora:first:1>"))
    # one session, switching sets: every picture equals the one a fresh start makes
    with_two = pixels(txt2img("a cat <lora:two:1>"))
    assert len({plain, with_one, with_two}) == 3
    assert pixels(txt2img("a cat <lora:one:1>")) == with_one  # by file name as well as by alias
    assert pixels(txt2img("a cat <lyco:first:1>")) == with_one  # A1111's alias of the extra network
    assert pixels(txt2img("a cat <lora:first:0>")) == plain
    assert pixels(txt2img("a cat")) == plain
    lora_app()
    assert pixels(txt2img("a cat <lora:two:1>")) == with_two


def test_te_only_multiplier_changes_only_the_text_encoder(lora_app):
    shared = lora_app()
    plain = pixels(txt2img("a cat"))
    te_only = txt2img("a cat <lora:first:1:0>")
    from modules.models.patcher import patcher_for

    patched = patcher_for(shared.sd_model).patched_keys
    assert patched and all(k.startswith("cond_stage_model.") for k in patched)
    assert pixels(te_only) != plain
    unet_only = txt2img("a cat <lora:first:te=0:unet=1>")
    patched = patcher_for(shared.sd_model).patched_keys
    assert patched and all(k.startswith("model.diffusion_model.") for k in patched)
    assert pixels(unet_only) not in (plain, pixels(te_only))


def test_infotext_has_addnet_hashes_and_only_first_prompt_counts(lora_app, data_dir):
    lora_app()
    res = txt2img(["a cat <lora:first:0.5>", "a dog <lora:two:1>"], batch_size=2)
    short = calculate_addnet_hash(str(data_dir / "models" / "Lora" / "one.safetensors"))[:12]
    assert f'Lora hashes: "first: {short}"' in res.infotexts[0]
    assert "two:" not in res.infotexts[0]
    from modules.infotext_utils import parse_generation_parameters

    assert parse_generation_parameters(res.infotexts[0])["Lora hashes"] == f"first: {short}"


def test_pasted_lora_hashes_point_at_the_local_file(lora_app, data_dir):
    shared = lora_app()
    from modules import script_callbacks

    short = calculate_addnet_hash(str(data_dir / "models" / "Lora" / "sub" / "two.safetensors"))[:12]
    params = {"Prompt": "a cat <lora:renamed:0.7>", "Lora hashes": f"renamed: {short}"}
    script_callbacks.infotext_pasted_callback("", params)
    # the hash is not known before the file was hashed once; after a generation it is
    if params["Prompt"] != "a cat <lora:two:0.7>":
        txt2img("x <lora:two:1>")
        params = {"Prompt": "a cat <lora:renamed:0.7>", "Lora hashes": f"renamed: {short}"}
        script_callbacks.infotext_pasted_callback("", params)
    assert params["Prompt"] == "a cat <lora:two:0.7>"
    addnet = {"Prompt": "p", "AddNet Module 1": "LoRA", "AddNet Model 1": "style(0123abcd)", "AddNet Weight A 1": "0.6"}
    script_callbacks.infotext_pasted_callback("", addnet)
    assert addnet["Prompt"] == "p\n<lora:style:0.6>"
    assert shared.opts is not None


def test_unknown_name_corrupt_file_and_foreign_keys_warn_and_still_generate(lora_app, data_dir, caplog):
    lora_app()
    folder = data_dir / "models" / "Lora"
    (folder / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    import torch

    write(str(folder / "foreign.safetensors"), {
        "lora_unet_not_a_layer_of_sd.lora_up.weight": torch.zeros(4, 2),
        "lora_unet_not_a_layer_of_sd.lora_down.weight": torch.zeros(2, 4)})
    plain = pixels(txt2img("a cat"))
    with caplog.at_level(logging.WARNING):
        res = txt2img("a cat <lora:missing:1> <lora:broken:1> <lora:foreign:1>")
    assert pixels(res) == plain
    messages = caplog.text
    assert "Lora not found: missing" in messages
    assert "broken" in messages and "could not be loaded" in messages
    assert "foreign" in messages and "none of its layers" in messages
    assert "Lora not found: missing" in res.comments
    assert "Lora failed to load: broken" in res.comments
    assert "Lora matched no layer of this model: foreign" in res.comments


def test_layers_of_unknown_type_are_reported_as_errors(lora_app, data_dir):
    shared = lora_app()
    import torch

    from modules.networks.lora.layer_index import build_layer_index

    target = build_layer_index(shared.sd_model).get("lora_unet_mid_block_attentions_0_proj_in")
    tensors = lora_for_layers(build_layer_index(shared.sd_model), ["lora_unet_mid_block_attentions_0_proj_in"])
    tensors["lora_unet_mid_block_attentions_0_proj_out.mystery_part"] = torch.zeros(3)
    write(str(data_dir / "models" / "Lora" / "odd.safetensors"), tensors)
    res = txt2img("a cat <lora:odd:1>")
    assert "Networks with errors: odd (1)" in res.comments
    assert target is not None
