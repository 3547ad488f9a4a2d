"""What a setting may hold: JSON, types, ranges, choices, live lists, image formats, name patterns, output folders."""
from __future__ import annotations

import json
import os
import types

import pytest

from modules import shared
from modules.core.options.catalogue import build_catalogue
from modules.core.options.errors import OptionValueError
from modules.core.options.option_info import OptionInfo
from modules.core.options.store import Options, SettingsRestrictions
from modules.core.options.validation import (
    MAX_NESTING,
    PathPolicy,
    check_json_value,
    check_option_value,
    writable_image_formats,
)

from tests.reference_answers import RESPONSES


@pytest.fixture
def no_app(monkeypatch):
    """Nothing of the running app is there: no lists to check against."""
    for name in ("opts", "cmd_opts", "checkpoints", "face_restorers", "vae_files"):
        monkeypatch.setattr(shared, name, None)
    monkeypatch.setattr(shared, "sd_upscalers", [])


@pytest.fixture
def catalogue(no_app):
    return build_catalogue()


def check(key, value, policy=None, live=True):
    return check_option_value(key, build_catalogue().get(key), value, policy=policy, live=live)


def refused(key, value, policy=None, live=True) -> OptionValueError:
    with pytest.raises(OptionValueError) as e:
        check(key, value, policy, live)
    assert e.value.key == key
    return e.value


def test_every_default_is_accepted(catalogue):
    policy = PathPolicy("/data")
    for key, info in catalogue.items():
        assert check_option_value(key, info, info.default, policy=policy) == info.default, key


def test_every_value_of_a1111s_options_answer_is_accepted(no_app):
    path = os.path.join(RESPONSES, "options.json")
    if not os.path.exists(path):
        pytest.skip("no reference answers")
    with open(path, encoding="utf-8") as f:
        answer = json.load(f)["body"]
    catalogue = build_catalogue()
    for key, value in answer.items():
        if isinstance(value, str) and value.startswith("<data-dir>/"):
            value = value.replace("<data-dir>/", "")
        check_option_value(key, catalogue.get(key), value, policy=PathPolicy("/data"))


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb", ["ok", "\ud834"], {"k": "\udc00"}, {"\ud800": 1}])
def test_strings_must_be_encodable_unicode(value):
    with pytest.raises(OptionValueError) as e:
        check_json_value("my_ext_key", value)
    assert e.value.key == "my_ext_key" and "Unicode" in e.value.message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 2 ** 60, -(2 ** 60), 1e300, [1, float("nan")]])
def test_numbers_must_be_finite_and_not_huge(value):
    with pytest.raises(OptionValueError):
        check_json_value("my_ext_key", value)


def test_nesting_depth_and_python_objects_are_refused():
    deep: list = []
    for _ in range(MAX_NESTING + 2):
        deep = [deep]
    with pytest.raises(OptionValueError, match="nested"):
        check_json_value("x", deep)
    with pytest.raises(OptionValueError, match="object"):
        check_json_value("x", {"a": object()})
    check_json_value("x", {"a": [1, 2.5, None, True, "é", {"b": []}]})


@pytest.mark.parametrize("key, value", [
    ("CLIP_stop_at_last_layers", 1000000000), ("CLIP_stop_at_last_layers", 0), ("jpeg_quality", -5),
    ("jpeg_quality", 101), ("n_rows", -2), ("directories_max_prompt_words", 21), ("s_noise", 1.2),
    ("target_side_length", 0), ("img_downscale_threshold", -1), ("sigma_min", -0.5), ("lora_in_memory_limit", -1),
])
def test_numbers_out_of_range_are_refused(key, value):
    assert "range" in refused(key, value).message


def test_whole_number_settings_get_an_int_and_fractional_sliders_take_fractions():
    assert check("jpeg_quality", 90.0) == 90 and type(check("jpeg_quality", 90.0)) is int
    refused("jpeg_quality", 90.5)
    # an int default on a slider of step 0.01 is a fraction setting (A1111 stores 0.5 there)
    assert check("sd_webui_modal_lightbox_icon_opacity", 0.5) == 0.5
    assert check("target_side_length", 4000.5) == 4000.5  # a Number without precision takes any number


@pytest.mark.parametrize("key, value", [
    ("randn_source", "GPU2"), ("emphasis", "original"), ("save_images_replace_action", "Overwrite"),
    ("disable_all_extensions", "some"), ("profiling_activities", ["CPU", "TPU"]),
    ("canvas_disabled_functions", ["Fly"]), ("realesrgan_enabled_models", ["R-ESRGAN 9x"]),
    ("hide_samplers", ["Euler", "No such sampler"]),
])
def test_fixed_choices(key, value):
    assert "choices" in refused(key, value).message


def test_free_name_lists_take_any_names_but_only_names():
    assert check("quicksettings_list", ["sd_model_checkpoint", "some_extension_setting"]) == [
        "sd_model_checkpoint", "some_extension_setting"]
    refused("quicksettings_list", ["sd_vae", 5])
    refused("disabled_extensions", [{"not": "a name"}])
    assert check("gradio_theme", "someone/custom-theme") == "someone/custom-theme"  # allow_custom_value


def test_checkpoints_by_title_file_name_or_hash_when_listed(monkeypatch):
    class Registry:
        known = {"sub/model.safetensors [abcdef0123]", "model", "abcdef0123"}

        def get_closest_match(self, name):
            return name if name in self.known or any(name in k for k in self.known) else None

    monkeypatch.setattr(shared, "checkpoints", None)
    assert check("sd_model_checkpoint", "anything.ckpt") == "anything.ckpt"  # nothing listed yet
    monkeypatch.setattr(shared, "checkpoints", Registry())
    for name in ("sub/model.safetensors [abcdef0123]", "model", "abcdef0123", None):
        assert check("sd_model_checkpoint", name) == name
    assert "not found" in refused("sd_model_checkpoint", "other.safetensors").message
    assert check("sd_model_checkpoint", "other.safetensors", live=False) == "other.safetensors"
    for not_a_name in (123, 1.5, ["model"], {"title": "model"}):
        assert "string" in refused("sd_model_checkpoint", not_a_name).message


def test_vaes_upscalers_and_restorers_against_the_running_app(no_app, monkeypatch):
    assert check("sd_vae", "whatever.pt") == "whatever.pt"  # no VAE registry
    monkeypatch.setattr(shared, "vae_files", types.SimpleNamespace(vae_dict={"kl-f8.safetensors": "/m/kl-f8.safetensors"}))
    for name in ("Automatic", "None", "kl-f8.safetensors"):
        assert check("sd_vae", name) == name
    refused("sd_vae", "../../etc/passwd")
    monkeypatch.setattr(shared, "sd_upscalers", [types.SimpleNamespace(name="None"), types.SimpleNamespace(name="Lanczos")])
    assert check("upscaler_for_img2img", "Lanczos") == "Lanczos"
    assert check("upscaler_for_img2img", None) is None
    refused("upscaler_for_img2img", "Magic")
    monkeypatch.setattr(shared, "face_restorers", types.SimpleNamespace(restorers=[types.SimpleNamespace(name=lambda: "GFPGAN")]))
    refused("face_restoration_model", "CodeFormer")
    assert check("face_restoration_model", "CodeFormer", live=False) == "CodeFormer"  # config.json: nothing listed yet


def test_lists_of_only_placeholders_mean_nothing_is_listed(no_app):
    # no hypernetworks or UNets listed (only "None"/"Automatic"): a name is kept for when they are
    assert check("cross_attention_optimization", "Doggettx") == "Doggettx"
    assert check("localization", "de_DE") == "de_DE"


def test_image_formats():
    formats = writable_image_formats()
    assert {"png", "jpg", "jpeg", "webp", "gif"} <= set(formats)
    for fmt in ("png", "PNG", "jpg", "webp"):
        assert check("samples_format", fmt) == fmt
        assert check("grid_format", fmt) == fmt
    for bad in ("../../x", "png/../../x", "exe", "", "txt", "x" * 300):
        assert "image format" in refused("samples_format", bad).message
        refused("grid_format", bad, live=False)


@pytest.mark.parametrize("key", ["samples_filename_pattern", "directories_filename_pattern", "grid_zip_filename_pattern"])
def test_name_patterns_stay_in_the_output_folder(key):
    for good in ("", "[date]", "[seed]-[prompt_spaces]", "sub/[seed]", "[datetime<%Y-%m>]/x", "a..b", "..x"):
        assert check(key, good) == good
    for bad in ("../../../x_[seed]", "..", "a/../../b", "/etc/[seed]", "\\\\server\\share", "C:\\x", "a\\..\\..\\b",
                "x\x00y"):
        refused(key, bad, live=False)


def test_output_folders_inside_the_data_dir_or_an_allowed_folder(tmp_path):
    data = tmp_path / "data"
    policy = PathPolicy(str(data))
    for good in ("", "outputs/txt2img-images", str(data / "outputs" / "mine"), "a/../b", str(data)):
        assert check("outdir_samples", good, policy) == good
    for key, bad in (("outdir_samples", "../outside"), ("outdir_grids", str(tmp_path / "elsewhere")),
                     ("temp_dir", "/tmp/x"), ("outdir_save", "a/../../x"), ("profiling_filename", "../../trace.json")):
        message = refused(key, bad, policy).message
        assert "--gradio-allowed-path" in message and str(data) in message
    allowed = PathPolicy(str(data), (str(tmp_path / "elsewhere"),))
    assert check("outdir_grids", str(tmp_path / "elsewhere" / "grids"), allowed)
    # config.json (no policy) is the operator's own file: its folders are not checked
    assert check("outdir_samples", "/srv/pictures", None) == "/srv/pictures"


def test_extension_options_checked_from_their_component_args():
    opts = Options(build_catalogue())
    opts.add_option("ext_strength", OptionInfo(0.5, "Strength", "Slider", {"minimum": 0, "maximum": 2, "step": 0.1}))
    opts.add_option("ext_mode", OptionInfo("a", "Mode", "Radio", {"choices": ["a", "b"]}))
    opts.add_option("ext_broken", OptionInfo(1, "Broken", "Slider", lambda: 1 / 0))
    assert opts.set("ext_strength", 1.5)
    with pytest.raises(OptionValueError):
        opts.set("ext_strength", 3)
    with pytest.raises(OptionValueError):
        opts.set("ext_mode", "c")
    assert opts.set("ext_broken", 7)  # arguments that cannot be read: type checked only


def test_store_uses_the_data_dir_from_the_flags(tmp_path):
    from modules.core.cmd_args import build_parser
    from modules.core.paths import resolve_path_flags

    cmd_opts = build_parser().parse_args(["--data-dir", str(tmp_path)])
    resolve_path_flags(cmd_opts)
    opts = Options(build_catalogue(), SettingsRestrictions.from_cmd_opts(cmd_opts))
    assert opts.set("outdir_samples", "pictures")
    with pytest.raises(OptionValueError):
        opts.set("outdir_samples", "../outside")
    assert opts.outdir_samples == "pictures"
    cmd_opts = build_parser().parse_args(["--data-dir", str(tmp_path), "--gradio-allowed-path", "/srv/pictures"])
    resolve_path_flags(cmd_opts)
    opts = Options(build_catalogue(), SettingsRestrictions.from_cmd_opts(cmd_opts))
    assert opts.set("outdir_samples", "/srv/pictures/sd")
    with pytest.raises(OptionValueError):
        opts.set("outdir_samples", "/srv/other")


def test_temporary_folder_never_shares_the_data_dirs_own_folders(tmp_path):
    # its PNG files are deleted at start (clean_temp_dir_at_start): never the user's pictures or models
    policy = PathPolicy(str(tmp_path / "data"), (str(tmp_path / "shared"),))
    assert check("temp_dir", "tmp/gradio", policy) == "tmp/gradio"
    assert check("temp_dir", str(tmp_path / "shared" / "tmp"), policy)
    for bad in ("outputs", "outputs/txt2img-images", ".", "", "log/images", "models/..", str(tmp_path / "shared")):
        if bad:
            assert "clean_temp_dir_at_start" in refused("temp_dir", bad, policy).message
    assert check("outdir_samples", "outputs", policy) == "outputs"
