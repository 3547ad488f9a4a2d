"""File-name tags, "nothing" tags, unknown tags, sanitisation and the sequence number."""
from __future__ import annotations

import datetime
import hashlib
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from modules.processing.filename_pattern import (
    FilenameGenerator,
    FilenameRules,
    NameContext,
    get_next_sequence_number,
    sanitize_filename_part,
)

NOW = datetime.datetime(2024, 7, 27, 13, 45, 9, tzinfo=datetime.timezone.utc)


def make_p(**kw) -> SimpleNamespace:
    fields = dict(steps=20, cfg_scale=7.0, styles=["Cinematic", "None"], sampler_name="DPM++ 2M", scheduler="Karras",
                  sd_model_hash="6ce0161689", sd_model_name="v1-5-pruned-emaonly", prompt="a cat",
                  negative_prompt="blurry", batch_size=1, n_iter=1, batch_index=0, iteration=0,
                  all_seeds=[1234], denoising_strength=None, user="alice", job_timestamp="20240727134509")
    fields.update(kw)
    return SimpleNamespace(**fields)


def gen(p=None, seed=1234, prompt="a cat, on a mat", image=None, **kw) -> FilenameGenerator:
    kw.setdefault("context", NameContext(now=lambda: NOW, vae_file="/models/VAE/vae-ft-mse.safetensors"))
    return FilenameGenerator(p if p is not None else make_p(), seed, prompt, image or Image.new("RGB", (64, 48)), **kw)


@pytest.mark.parametrize("pattern,expected", [
    ("[seed]", "1234"),
    ("[SEED]-[Steps]", "1234-20"),
    ("[cfg]", "7.0"),
    ("[width]x[height]", "64x48"),
    ("[styles]", "Cinematic"),
    ("[sampler]", "DPM++ 2M"),
    ("[scheduler]", "Karras"),
    ("[sampler_scheduler]", "DPM++ 2M Karras"),
    ("[model_hash]", "6ce0161689"),
    ("[model_name]", "v1-5-pruned-emaonly"),
    ("[date]", "2024-07-27"),
    ("[datetime]", "20240727134509"),
    ("[datetime<%Y_%m_%d %H-%M>]", "2024_07_27 13-45"),
    ("[job_timestamp]", "20240727134509"),
    ("[prompt]", "a_cat,_on_a_mat"),
    ("[prompt_spaces]", "a cat, on a mat"),
    ("[prompt_words]", "a cat on a mat"),
    ("[prompt_hash]", hashlib.sha256(b"a cat, on a mat").hexdigest()[:8]),
    ("[prompt_hash<4>]", hashlib.sha256(b"a cat, on a mat").hexdigest()[:4]),
    ("[negative_prompt_hash]", hashlib.sha256(b"blurry").hexdigest()[:8]),
    ("[full_prompt_hash<12>]", hashlib.sha256(b"a cat blurry").hexdigest()[:12]),
    ("[batch_size]", "1"),
    ("[clip_skip]", "1"),
    ("[user]", "alice"),
    ("[vae_filename]", "vae-ft-mse"),
    ("[none]", ""),
    ("[basename]", "img"),
    ("[seed_first]", "1234"),
    ("[hasprompt<cat><dog|nodog>]", "catnodog"),
    ("[unknown_tag]-[seed]", "[unknown_tag]-1234"),
    ("[unknown<arg>]", "[unknown]"),
    ("[seed<bad arg>]", "[seed]"),
    ("plain-text", "plain-text"),
])
def test_tags(pattern, expected):
    assert gen().apply(pattern) == expected


def test_nothing_tags_also_remove_the_text_before_them():
    g = gen()
    assert g.apply("[seed]-[batch_number]") == "1234"
    assert g.apply("[seed]-[generation_number]") == "1234"
    assert g.apply("[seed]-[seed_last]") == "1234"
    assert g.apply("[seed]_d[denoising]") == "1234"


def test_batch_tags_in_a_batch():
    p = make_p(batch_size=4, n_iter=2, batch_index=2, iteration=1, all_seeds=[10, 11, 12, 13, 14, 15, 16, 17],
               denoising_strength=0.75)
    g = gen(p, seed=16)
    assert g.apply("[seed]-[batch_number]-[generation_number]") == "16-3-7"
    assert g.apply("[seed_first]-[seed_last]") == "10-17"
    assert g.apply("[denoising]") == "0.75"
    assert gen(p, seed=16, zip=True).apply("[seed]-[batch_number]") == "16"
    assert gen(p).apply("x-[user]_[batch_number]") == "x-alice_3"


def test_image_hash_and_time_zone():
    image = Image.new("RGB", (8, 8), (1, 2, 3))
    digest = hashlib.sha256(image.tobytes()).hexdigest()
    assert gen(image=image).apply("[image_hash]") == digest
    assert gen(image=image).apply("[image_hash<6>]") == digest[:6]
    try:
        ZoneInfo("Asia/Tokyo")
    except Exception:
        pytest.skip("no time zone data")
    assert gen().apply("[datetime<%H:%M><Asia/Tokyo>]") == "22_45"
    assert gen().apply("[datetime<%H><No/Such_Zone>]") == NOW.astimezone(None).strftime("%H")


def test_tags_without_a_processing_object():
    g = FilenameGenerator(None, 5, "a dog", Image.new("RGB", (8, 8)),
                          context=NameContext(model_hash="abc", model_name="m", now=lambda: NOW))
    assert g.apply("[seed]-[model_hash]-[model_name]-[width]") == "5-abc-m-8"
    assert g.apply("[steps]") == "[steps]"
    assert g.apply("[prompt_no_styles]") == "[prompt_no_styles]"


def test_prompt_without_styles():
    ctx = NameContext(now=lambda: NOW, style_prompts=lambda names: ["{prompt}, cinematic, film grain"])
    g = FilenameGenerator(make_p(), 1, "a cat, cinematic, film grain", Image.new("RGB", (8, 8)), context=ctx)
    assert g.apply("[prompt_no_styles]") == "a cat"


def test_scheduler_tag_resolves_automatic():
    assert gen(make_p(sampler_name="DPM++ 2M", scheduler="Automatic")).apply("[scheduler]") == "Karras"
    assert gen(make_p(sampler_name="Euler", scheduler="Automatic")).apply("[scheduler]") == "Automatic"
    assert gen(make_p(sampler_name="Euler", scheduler="SGM Uniform")).apply("[scheduler]") == "Sgm uniform"
    # without a schedule the tag is "nothing" and takes the text before it along
    assert gen(SimpleNamespace(sampler_name="Euler")).apply("[seed]-[scheduler]") == "1234"


def test_settings_feed_tags():
    settings = SimpleNamespace(CLIP_stop_at_last_layers=2, directories_max_prompt_words=2)
    g = gen(settings=settings)
    assert g.apply("[clip_skip]-[prompt_words]") == "2-a cat"
    assert gen(prompt="!!!").apply("[prompt_words]") == "empty"


def test_sanitisation():
    assert sanitize_filename_part('a<b>c:d"e/f\\g|h?i*j#k\nl\rm\tn') == "a_b_c_d_e_f_g_h_i_j_k_l_m_n"
    # spaces become "_" before the blanks are stripped, as in A1111
    assert sanitize_filename_part("  lead and trail.. ") == "__lead_and_trail.._"
    assert sanitize_filename_part("  lead and trail.. ", replace_spaces=False) == "lead and trail"
    assert sanitize_filename_part("x" * 300) == "x" * 128
    assert sanitize_filename_part("x" * 300, rules=FilenameRules(max_length=10)) == "x" * 10
    unix = FilenameRules(unix_sanitization=True)
    assert sanitize_filename_part('a:b/c"d?', replace_spaces=False, rules=unix) == 'a:b_c"d?'
    assert sanitize_filename_part(None) is None
    rules = FilenameRules.from_cmd_opts(SimpleNamespace(unix_filenames_sanitization=True, filenames_max_length=64))
    assert rules == FilenameRules(True, 64)
    assert gen(rules=unix).apply("[prompt_spaces]") == "a cat, on a mat"


def test_next_sequence_number(tmp_path):
    assert get_next_sequence_number(str(tmp_path), "") == 0
    for name in ("00000-1.png", "00012-a-b.png", "abc.png", "grid-0003.png", "grid-x.png"):
        (tmp_path / name).write_bytes(b"")
    assert get_next_sequence_number(str(tmp_path), "") == 13
    assert get_next_sequence_number(str(tmp_path), "grid") == 4
