"""Writing infotext: A1111's exact text, quoting, and a create-then-parse round trip of every field."""
from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest

from modules.core.options.catalogue import build_catalogue
from modules.core.options.store import Options
from modules.processing import infotext_fields as F
from modules.processing.infotext import build_infotext, format_params, quote, unquote
from modules.processing.infotext_params import create_infotext, generation_params
from modules.processing.infotext_parse import parse_generation_parameters

from tests.reference_answers import RESPONSES


def make_p(**kw) -> SimpleNamespace:
    fields = dict(
        steps=20, sampler_name="Euler a", scheduler="Automatic", cfg_scale=7.0, batch_size=1,
        all_prompts=["a cat"], all_negative_prompts=[""], all_seeds=[1234], all_subseeds=[99],
        subseed_strength=0, seed_resize_from_w=-1, seed_resize_from_h=-1, restore_faces=False,
        width=512, height=512, sd_model_hash="6ce0161689", sd_model_name="v1-5-pruned-emaonly",
        sd_vae_hash=None, sd_vae_name=None, extra_generation_params={}, eta=None, sampler=None,
        tiling=False, is_using_inpainting_conditioning=False, main_prompt="a cat", main_negative_prompt="",
    )
    fields.update(kw)
    return SimpleNamespace(**fields)


def fresh_opts(**values) -> Options:
    opts = Options(build_catalogue())
    for key, value in values.items():
        opts.set(key, value)
    return opts


def infotext_of(p, opts=None, index=0, **context):
    return create_infotext(p, p.all_prompts, p.all_seeds, p.all_subseeds, index=index,
                           settings=opts or fresh_opts(), **context)


def test_quote_rules():
    assert quote("Euler a") == "Euler a"
    assert quote(7.0) == 7.0
    assert quote("a, b") == '"a, b"'
    assert quote("x: y") == '"x: y"'
    assert quote("two\nlines") == '"two\\nlines"'
    assert quote("ünï, 日本") == '"ünï, 日本"'
    assert quote('say "hi", then') == '"say \\"hi\\", then"'
    assert quote('"quoted"') == '"\\"quoted\\""'
    assert unquote('"a, b"') == "a, b"
    assert unquote('"broken') == '"broken'
    assert unquote("plain") == "plain"


def test_format_drops_none_and_writes_a_value_equal_to_its_key_bare():
    text = format_params({"Steps": 20, "Tiling": None, "Flag": "Flag", "Lora hashes": "a: 1, b: 2"})
    assert text == 'Steps: 20, Flag, Lora hashes: "a: 1, b: 2"'


def test_layout():
    assert build_infotext("p", "n", {"Steps": 1}) == "p\nNegative prompt: n\nSteps: 1"
    assert build_infotext("p", "", {"Steps": 1}) == "p\nSteps: 1"
    assert build_infotext("  p", None, {}) == "p"


def test_spec_example():
    p = make_p(sampler_name="DPM++ 2M", scheduler="Karras", all_negative_prompts=["blurry"])
    text = infotext_of(p, version="v1.10.1")
    assert text == ("a cat\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, "
                    "CFG scale: 7.0, Seed: 1234, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, "
                    "Version: v1.10.1")


@pytest.mark.skipif(not os.path.exists(f"{RESPONSES}/txt2img.json"), reason="A1111 answers not available")
def test_same_text_as_a1111_for_its_recorded_txt2img():
    info = json.loads(json.load(open(f"{RESPONSES}/txt2img.json"))["body"]["info"])
    p = make_p(steps=3, width=64, height=64, all_prompts=["a photo of a cat"], all_seeds=[1234],
               all_subseeds=[4238969333], sd_model_hash="c955cc14f8", sd_model_name="random-sd15")
    assert infotext_of(p, version=info["version"]) == info["infotexts"][0]


def test_ensd_only_for_samplers_that_use_it_with_nonzero_eta():
    opts = fresh_opts(eta_noise_seed_delta=31337)
    assert "ENSD: 31337" in infotext_of(make_p(sampler_name="Euler a"), opts)
    assert "ENSD" not in infotext_of(make_p(sampler_name="Euler"), opts)
    assert "ENSD" not in infotext_of(make_p(sampler_name="Euler a", eta=0), opts)
    assert "ENSD" not in infotext_of(make_p(sampler_name="Euler a"))


def test_rng_written_only_when_not_gpu():
    assert "RNG" not in infotext_of(make_p())
    assert "RNG: CPU" in infotext_of(make_p(), fresh_opts(randn_source="CPU"))
    assert "RNG: NV" in infotext_of(make_p(), fresh_opts(randn_source="NV"))


def test_settings_switch_fields_off():
    p = make_p(sd_vae_hash="abcdef0123", sd_vae_name="vae.pt", user="alice")
    on = infotext_of(p, fresh_opts(add_user_name_to_info=True), version="v1")
    assert all(k in on for k in ("Model hash", "Model:", "VAE hash", "VAE:", "User: alice", "Version: v1"))
    off = infotext_of(p, fresh_opts(add_model_hash_to_info=False, add_model_name_to_info=False,
                                    add_vae_hash_to_info=False, add_vae_name_to_info=False,
                                    add_version_to_infotext=False), version="v1")
    assert off == "a cat\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7.0, Seed: 1234, Size: 512x512"


def test_per_image_values_of_a_batch():
    p = make_p(batch_size=2, all_prompts=["a", "b", "c", "d"], all_negative_prompts=["", "n", "", ""],
               all_seeds=[1, 2, 3, 4], all_subseeds=[5, 6, 7, 8], subseed_strength=0.5,
               extra_generation_params={"Per image": ["w", "x", "y", "z"]})
    text = create_infotext(p, p.all_prompts, p.all_seeds, p.all_subseeds, iteration=0, position_in_batch=1,
                           settings=fresh_opts())
    assert text.startswith("b\nNegative prompt: n\n")
    assert "Seed: 2," in text and "Variation seed: 6, Variation seed strength: 0.5" in text
    assert "Per image: x" in text
    third = create_infotext(p, p.all_prompts, p.all_seeds, p.all_subseeds, iteration=1, position_in_batch=0,
                            settings=fresh_opts())
    assert third.startswith("c\nSteps") and "Seed: 3," in third


def test_callable_values_get_a1111s_locals_and_errors_drop_the_key():
    def hires_prompt(p, index, prompt_text, **kwargs):
        return None if prompt_text == "same" else f"{prompt_text} detailed"

    def broken(**kwargs):
        raise RuntimeError("extension bug")

    p = make_p(extra_generation_params={"Hires prompt": hires_prompt, "Broken": broken})
    text = infotext_of(p)
    assert "Hires prompt: a cat detailed" in text and "Broken" not in text
    assert "Hires prompt" not in infotext_of(make_p(all_prompts=["same"], extra_generation_params={"Hires prompt": hires_prompt}))


def test_extra_params_keep_a1111s_order():
    p = make_p(extra_generation_params={"Denoising strength": 0.7, "Hires upscale": 2, "Lora hashes": "x: 1"},
               restore_faces=True, tiling=True, clip_skip=2)
    params, _, _ = generation_params(p, p.all_prompts, p.all_seeds, p.all_subseeds, settings=fresh_opts(),
                                     version="v1.10.1")
    keys = [k for k, v in params.items() if v is not None]
    assert keys == ["Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Face restoration", "Size",
                    "Model hash", "Model", "Denoising strength", "Clip skip", "Tiling", "Hires upscale",
                    "Lora hashes", "Version"]


class TokenMergingP(SimpleNamespace):
    def get_token_merging_ratio(self, for_hr=False):
        return 0.5 if for_hr else 0.3


def full_p() -> SimpleNamespace:
    """A processing object with every field of the infotext set."""
    return TokenMergingP(**vars(make_p(
        steps=28, sampler_name="Euler a", scheduler="Karras", cfg_scale=6.5, image_cfg_scale=1.5,
        all_prompts=["masterpiece, (ünïcode:1.2) 日本 cat\nsecond line"],
        all_negative_prompts=["lowres, bad hands\nworst quality"],
        all_seeds=[3456789012], all_subseeds=[42], subseed_strength=0.35, seed_resize_from_w=512,
        seed_resize_from_h=768, restore_faces=True, width=832, height=1216, sd_model_hash="31e35c80fc",
        sd_model_name="sd_xl_base_1.0", sd_vae_hash="235745af8d", sd_vae_name="sdxl_vae.safetensors",
        is_using_inpainting_conditioning=True, inpainting_mask_weight=0.8, clip_skip=2, enable_hr=True,
        init_img_hash="0123456789abcdef", tiling=True, user="alice", eta=None,
        extra_generation_params={
            "Denoising strength": 0.45, "Hires upscale": 1.5, "Hires steps": 12, "Hires upscaler": "R-ESRGAN 4x+",
            "Hires resize": "1248x1824", "Hires prompt": "detailed, sharp", "Hires negative prompt": "blurry",
            "Hires sampler": "DPM++ 2M", "Hires schedule type": "Exponential", "Hires checkpoint": "other [abc]",
            "Refiner": "refiner_1.0 [7440042bbd]", "Refiner switch at": 0.8,
            "Lora hashes": "add_detail: 7c6bad76eb54, sharp: 0123456789ab", "TI hashes": "easynegative: c74b4e810b03",
            "Emphasis": "No norm", "Mask blur": 4, "Masked content": "latent noise", "Inpaint area": "Only masked",
            "Masked area padding": 48, "Mask mode": "Inpaint not masked", "Noise multiplier": 1.05,
            "Extra noise": 0.1, "Schedule max sigma": 14.6, "Schedule min sigma": 0.03, "Schedule rho": 7.0,
            "Eta": 0.9, "NGMS": 0.2, "Pad conds": True, "VAE Encoder": "TAESD", "VAE Decoder": "TAESD",
            "Script": "X/Y/Z plot", "X Values": "10, 20, 30", "Quoted": 'say "hi"', "Colon value": "a: b",
            "Downcast alphas_cumprod": True, "Hires refiner": "both passes",
        },
    )))


def test_every_field_survives_create_then_parse():
    p = full_p()
    opts = fresh_opts(eta_noise_seed_delta=31337, randn_source="CPU", add_user_name_to_info=True,
                      fp8_storage="Enable for SDXL", cache_fp16_weight=True, face_restoration_model="GFPGAN")
    params, prompt, negative = generation_params(p, p.all_prompts, p.all_seeds, p.all_subseeds, settings=opts,
                                                 version="v1.10.1", fp8=True)
    text = create_infotext(p, p.all_prompts, p.all_seeds, p.all_subseeds, settings=opts, version="v1.10.1", fp8=True)
    parsed = parse_generation_parameters(text, settings=opts)

    assert parsed[F.PROMPT] == prompt and parsed[F.NEGATIVE_PROMPT] == negative
    assert all(params[k] is not None for k in F.CORE_ORDER if k != F.DENOISING_STRENGTH), \
        [k for k in F.CORE_ORDER if params[k] is None]
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, str) and "x" in value and value.replace("x", "").isdigit():
            width, height = value.split("x")
            assert (parsed[f"{key}-1"], parsed[f"{key}-2"]) == (width, height), key
        else:
            assert parsed[key] == str(value), key


def test_round_trip_with_infotext_written_by_the_ui_defaults():
    p = make_p()
    parsed = parse_generation_parameters(infotext_of(p, version="v1.10.1"))
    assert parsed["Seed"] == "1234" and parsed["Size-1"] == "512" and parsed["Clip skip"] == "1"
