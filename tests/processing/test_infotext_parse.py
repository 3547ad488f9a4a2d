"""Reading infotext: A1111's defaults, old-version fix-ups, sampler names, styles, overrides."""
from __future__ import annotations

import json
import os

import pytest

from modules.core.options.catalogue import build_catalogue
from modules.core.options.store import Options
from modules.processing import infotext_samplers as S
from modules.processing.infotext_overrides import create_override_settings_dict, get_override_settings
from modules.processing.infotext_parse import (
    parse_generation_parameters,
    parse_version,
    prompt_uses_emphasis,
    split_infotext,
)

from tests.reference_answers import RESPONSES

HIRES_LORA = """masterpiece, best quality, 1girl, <lora:add_detail:0.6>, (blue eyes:1.2), cityscape at night
Negative prompt: easynegative, (worst quality, low quality:1.4), bad hands
Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 2207194812, Size: 512x768, \
Model hash: 7f96a1a9ca, Model: anythingV5, VAE hash: 2125bad8d3, VAE: vae-ft-mse-840000-ema-pruned.safetensors, \
Denoising strength: 0.45, Clip skip: 2, Hires upscale: 2, Hires steps: 15, Hires upscaler: R-ESRGAN 4x+ Anime6B, \
Lora hashes: "add_detail: 7c6bad76eb54", TI hashes: "easynegative: c74b4e810b03, badhandv4: 5e40d722fc3d", \
Version: v1.10.1"""

OLD_KARRAS = """portrait of an old sailor, oil painting
Negative prompt: cartoon
Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 123456, Size: 512x512, Model hash: e1441589a6, \
Model: v1-5-pruned, Variation seed: 987654, Variation seed strength: 0.3, Seed resize from: 768x512, \
ENSD: 31337, Version: v1.5.1"""

QUOTED = """a cat
Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Script: X/Y/Z plot, \
X Type: Steps, X Values: "10, 20, 30", Y Values: "say \\"hi\\", then", Hires resize: 1024x1536"""


def opts(**values) -> Options:
    o = Options(build_catalogue())
    for key, value in values.items():
        o.set(key, value)
    return o


def test_civitai_style_hires_lora_ti():
    d = parse_generation_parameters(HIRES_LORA)
    assert d["Prompt"].startswith("masterpiece") and d["Prompt"].endswith("cityscape at night")
    assert d["Negative prompt"] == "easynegative, (worst quality, low quality:1.4), bad hands"
    assert d["Steps"] == "28" and d["Sampler"] == "DPM++ 2M" and d["Schedule type"] == "Karras"
    assert (d["Size-1"], d["Size-2"]) == ("512", "768")
    assert d["VAE"] == "vae-ft-mse-840000-ema-pruned.safetensors"
    assert d["Hires upscale"] == "2" and d["Hires upscaler"] == "R-ESRGAN 4x+ Anime6B"
    assert d["Lora hashes"] == "add_detail: 7c6bad76eb54"
    assert d["TI hashes"] == "easynegative: c74b4e810b03, badhandv4: 5e40d722fc3d"
    assert d["Clip skip"] == "2"
    assert d["Hires resize-1"] == 0 and d["Hires sampler"] == "Use same sampler"
    assert d["Emphasis"] == "Original"  # weighted text, no Emphasis field
    assert d["Refiner switch by sampling steps"] is False
    assert "Downcast alphas_cumprod" not in d


def test_old_version_with_karras_sampler_variation_seed_and_backcompat():
    d = parse_generation_parameters(OLD_KARRAS)
    assert d["Sampler"] == "DPM++ 2M Karras" and d["Schedule type"] == "Automatic"
    assert (S.get_sampler_from_infotext(d), S.get_scheduler_from_infotext(d)) == ("DPM++ 2M", "Automatic")
    assert d["Variation seed"] == "987654" and d["Variation seed strength"] == "0.3"
    assert (d["Seed resize from-1"], d["Seed resize from-2"]) == ("768", "512")
    assert d["ENSD"] == "31337" and d["Clip skip"] == "1" and d["RNG"] == "GPU"
    assert d["Downcast alphas_cumprod"] is True  # made before v1.7.0-225
    assert "Old prompt editing timelines" not in d  # no "[" in the prompt
    assert "Emphasis" not in d
    assert "Downcast alphas_cumprod" not in parse_generation_parameters(OLD_KARRAS, settings=opts(auto_backcompat=False))


def test_quoted_values_with_commas_and_escaped_quotes():
    d = parse_generation_parameters(QUOTED)
    assert d["X Values"] == "10, 20, 30"
    assert d["Y Values"] == 'say "hi", then'
    assert d["Script"] == "X/Y/Z plot"
    assert (d["Hires resize-1"], d["Hires resize-2"]) == ("1024", "1536")


@pytest.mark.skipif(not os.path.exists(f"{RESPONSES}/txt2img.json"), reason="A1111 answers not available")
def test_a1111s_own_infotext():
    info = json.loads(json.load(open(f"{RESPONSES}/txt2img.json"))["body"]["info"])
    d = parse_generation_parameters(info["infotexts"][0])
    assert d["Prompt"] == "a photo of a cat" and d["Negative prompt"] == ""
    assert d["Steps"] == "3" and d["Sampler"] == "Euler a" and d["Schedule type"] == "Automatic"
    assert d["CFG scale"] == "7.0" and d["Seed"] == "1234" and (d["Size-1"], d["Size-2"]) == ("64", "64")
    assert d["Model hash"] == "c955cc14f8" and d["Model"] == "random-sd15" and d["Version"] == "v1.10.1"


def test_multiline_prompt_and_negative_prompt():
    text = "line one\nline two\nNegative prompt: bad\nugly\nSteps: 5, Sampler: Euler, Seed: 3"
    d = parse_generation_parameters(text)
    assert d["Prompt"] == "line one\nline two" and d["Negative prompt"] == "bad\nugly"


def test_a_last_line_with_fewer_than_three_params_is_prompt():
    prompt, negative, params = split_infotext("a cat\nstyle: watercolor, mood: calm")
    assert prompt == "a cat\nstyle: watercolor, mood: calm" and negative == "" and params == ""
    assert parse_generation_parameters("just a prompt")["Prompt"] == "just a prompt"


def test_empty_value_is_dropped_like_a1111():
    d = parse_generation_parameters("p\nSteps: 5, Sampler: , Seed: 3, CFG scale: 7")
    assert "Sampler" not in d and d["Seed"] == "3"


def test_defaults_for_missing_fields():
    d = parse_generation_parameters("p\nSteps: 5, Sampler: Euler, Seed: 3")
    assert d["Clip skip"] == "1"
    assert d["Hires schedule type"] == "Use same scheduler" and d["Hires checkpoint"] == "Use same checkpoint"
    assert d["Hires prompt"] == "" and d["Hires negative prompt"] == ""
    assert d["Mask mode"] == "Inpaint masked" and d["Masked content"] == "original"
    assert d["Inpaint area"] == "Whole picture" and d["Masked area padding"] == 32
    assert d["Schedule max sigma"] == 0 and d["Schedule rho"] == 0
    assert d["VAE Encoder"] == "Full" and d["VAE Decoder"] == "Full" and d["FP8 weight"] == "Disable"
    assert "Cache FP16 weight for LoRA" not in d
    d = parse_generation_parameters("p\nSteps: 5, Seed: 3, FP8 weight: Enable")
    assert d["Cache FP16 weight for LoRA"] is False


def test_hypernet_becomes_a_prompt_tag():
    d = parse_generation_parameters("a cat\nSteps: 5, Seed: 3, Hypernet: anime, Hypernet strength: 0.7")
    assert d["Prompt"] == "a cat<hypernet:anime:0.7>"


def test_first_pass_size_becomes_hires_resize():
    d = parse_generation_parameters("p\nSteps: 5, Seed: 3, Size: 1024x768, First pass size: 512x384")
    assert (d["Size-1"], d["Size-2"], d["Hires resize-1"], d["Hires resize-2"]) == (512, 384, 1024, 768)
    d = parse_generation_parameters("p\nSteps: 5, Seed: 3, Size: 1024x768, First pass size: 0x0")
    assert (d["Size-1"], d["Size-2"]) == (640, 448)


def test_refiner_and_old_versions():
    d = parse_generation_parameters("a [b:c:5]\nSteps: 20, Sampler: DDIM, Seed: 1, Refiner: r [1], Version: v1.5.2")
    assert d["Old prompt editing timelines"] is True and d["Pad conds v0"] is True
    assert d["Refiner switch by sampling steps"] is True
    d = parse_generation_parameters("p\nSteps: 20, Sampler: DDIM, Seed: 1, Refiner: r, Version: v1.9.4")
    assert d["Refiner switch by sampling steps"] is False and "Pad conds v0" not in d


def test_version_parsing():
    assert parse_version("v1.7.0-225-g1234abcd") == parse_version("v1.7.0-225")
    assert parse_version("v1.7.0-224") < parse_version("v1.7.0-225") < parse_version("v1.7.1")
    assert parse_version(None) is None and parse_version("not a version") is None


def test_skip_fields_from_argument_and_setting():
    assert "Seed" not in parse_generation_parameters(HIRES_LORA, ["Seed"])
    d = parse_generation_parameters(HIRES_LORA, settings=opts(infotext_skip_pasting=["Clip skip", "Seed"]))
    assert "Clip skip" not in d and "Seed" not in d


class FakeStyles:
    def extract_styles_from_prompt(self, prompt, negative_prompt):
        if prompt.endswith(", cinematic"):
            return ["Cinematic"], prompt[: -len(", cinematic")], negative_prompt
        return [], prompt, negative_prompt


def test_styles_extraction_follows_the_setting():
    text = "a cat, cinematic\nSteps: 5, Sampler: Euler, Seed: 3"
    d = parse_generation_parameters(text, styles=FakeStyles())
    assert d["Prompt"] == "a cat" and d["Styles array"] == ["Cinematic"]
    d = parse_generation_parameters(text, styles=FakeStyles(), settings=opts(infotext_styles="Ignore"))
    assert d["Prompt"] == "a cat, cinematic" and "Styles array" not in d
    d = parse_generation_parameters(text, styles=FakeStyles(), settings=opts(infotext_styles="Discard"))
    assert d["Prompt"] == "a cat" and "Styles array" not in d
    d = parse_generation_parameters("a dog\nSteps: 5, Sampler: Euler, Seed: 3", styles=FakeStyles(),
                                    settings=opts(infotext_styles="Apply"))
    assert d["Styles array"] == []


def test_styles_in_hires_prompt_are_taken_out_too():
    text = 'a cat, cinematic\nSteps: 5, Seed: 3, Hires prompt: "a cat, detailed, cinematic", Version: v1.10.1'
    d = parse_generation_parameters(text, styles=FakeStyles())
    assert d["Prompt"] == "a cat" and d["Hires prompt"] == "a cat, detailed"


@pytest.mark.parametrize("name,scheduler,expected", [
    ("DPM++ 2M Karras", "Automatic", ("DPM++ 2M", "Automatic")),
    ("DPM++ 2M SDE Karras", None, ("DPM++ 2M SDE", "Karras")),
    ("DPM++ 2M SDE Exponential", None, ("DPM++ 2M SDE", "Automatic")),
    ("Euler a", "Karras", ("Euler a", "Karras")),
    ("DPM++ SDE Karras", None, ("DPM++ SDE", "Automatic")),
    ("Euler SGMUniform", None, ("Euler", "SGM Uniform")),
    ("No such sampler", None, ("DPM++ 2M", "Automatic")),
    ("DPM++ 2M", "karras", ("DPM++ 2M", "Automatic")),
])
def test_sampler_and_schedule_from_old_and_new_names(name, scheduler, expected):
    assert S.get_sampler_and_scheduler(name, scheduler) == expected


def test_hires_sampler_and_schedule():
    d = {"Sampler": "DPM++ 2M", "Schedule type": "Karras", "Hires sampler": "Use same sampler",
         "Hires schedule type": "Use same scheduler"}
    assert S.get_hr_sampler_and_scheduler(d) == ("Use same sampler", "Automatic")
    d = {"Sampler": "Euler", "Schedule type": "Automatic", "Hires sampler": "DPM++ 2M Karras"}
    assert (S.get_hr_sampler_from_infotext(d), S.get_hr_scheduler_from_infotext(d)) == ("DPM++ 2M", "Use same scheduler")


def test_emphasis_detection():
    assert not prompt_uses_emphasis("plain text, BREAK more", "")
    assert not prompt_uses_emphasis(r"escaped \(brackets\) \[too\]", "(neutral:1.0)")
    assert prompt_uses_emphasis("(weighted)", "")
    assert prompt_uses_emphasis("", "[less]")
    assert prompt_uses_emphasis("(unclosed", "")
    assert prompt_uses_emphasis("(x:1.5) y", "")


def test_override_settings_from_parsed_fields():
    o = opts()
    d = parse_generation_parameters(OLD_KARRAS)
    d["RNG"] = "CPU"
    overrides = get_override_settings(d, settings=o)
    assert ("ENSD", "eta_noise_seed_delta", 31337) in overrides
    assert ("RNG", "randn_source", "CPU") in overrides
    assert not any(setting == "CLIP_stop_at_last_layers" for _, setting, _ in overrides)  # 1 equals the current value
    assert not any(setting == "sd_model_checkpoint" for _, setting, _ in overrides)  # auto-swap is off
    assert get_override_settings(d, settings=o, skip_fields=["ENSD"]) == [x for x in overrides if x[0] != "ENSD"]
    assert create_override_settings_dict(["Clip skip: 2", "ENSD: 31337"], settings=o) == {
        "CLIP_stop_at_last_layers": 2, "eta_noise_seed_delta": 31337}


def test_uses_ensd_rules():
    assert S.uses_ensd("Euler a", None) and S.uses_ensd("DPM++ 2S a", 0.5)
    assert not S.uses_ensd("Euler a", 0) and not S.uses_ensd("DPM++ 2M", None)
    assert not S.uses_ensd("Euler a", None, sampler_eta=0)
    assert S.uses_ensd("Euler a", None, sampler_eta=None)
