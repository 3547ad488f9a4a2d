"""The settings catalogue against A1111 1.10.1's real options answer and Settings pages."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import pytest

from modules import shared
from modules.core.options import catalogue as cat
from modules.core.options.catalogue import RELOADS_ON_CHANGE, build_catalogue
from modules.core.options.option_info import OptionHTML

from tests.reference_answers import RESPONSES
OPTIONS_JSON = os.path.join(RESPONSES, "options.json")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Values in A1111's answer that depend on the loaded model, not defaults
RUNTIME_VALUES = {"sd_model_checkpoint": None, "sd_checkpoint_hash": ""}

# Settings A1111's built-in extensions add only when the UI settings are built
APPENDIX_ONLY = {
    "SCUNET_tile": 256, "SCUNET_tile_overlap": 8, "SWIN_tile": 192, "SWIN_tile_overlap": 8, "SWIN_torch_compile": False,
    "ldsr_steps": 100, "ldsr_cached": False,
    "hypertile_enable_unet": False, "hypertile_enable_unet_secondpass": False, "hypertile_max_depth_unet": 3,
    "hypertile_max_tile_unet": 256, "hypertile_swap_size_unet": 3, "hypertile_enable_vae": False,
    "hypertile_max_depth_vae": 3, "hypertile_max_tile_vae": 128, "hypertile_swap_size_vae": 3,
}

PROJECT_ONLY = {"memory_reserve_mb": 1024, "compile_unet": False, "forge_additional_modules": []}
"""This project's own settings (and Forge's key for GGUF models): registered after A1111's and the built-in extensions' keys."""

ALLOWED_COMPONENTS = {None, "Slider", "Dropdown", "Radio", "Checkbox", "Textbox", "Number", "ColorPicker", "CheckboxGroup", "HTML", "Code"}
CATEGORIES = {None, "saving", "sd", "ui", "system", "postprocessing", "training"}

REQUIRES_RELOAD_UI = {
    "notification_audio", "show_warnings", "show_gradio_deprecation_warnings", "enable_quantization",
    "img2img_editor_height", "img2img_sketch_default_brush_color", "img2img_inpaint_mask_brush_color",
    "img2img_inpaint_sketch_default_brush_color", "extra_networks_card_order_field", "extra_networks_card_order",
    "extra_networks_tree_view_style", "extra_networks_tree_view_default_enabled", "extra_networks_tree_view_default_width",
    "ui_extra_networks_tab_reorder", "sd_webui_modal_lightbox_icon_opacity", "sd_webui_modal_lightbox_toolbar_opacity",
    "gallery_height", "compact_prompt_box", "samplers_in_dropdown", "dimensions_and_batch_together",
    "hires_fix_show_sampler", "hires_fix_show_prompts", "txt2img_settings_accordion", "img2img_settings_accordion",
    "localization", "quicksettings_list", "ui_tab_order", "hidden_tabs", "ui_reorder_list", "gradio_theme",
    "hide_samplers", "extra_options_txt2img", "extra_options_img2img", "extra_options_cols", "extra_options_accordion",
}


@pytest.fixture(scope="module")
def a1111() -> dict:
    with open(OPTIONS_JSON, encoding="utf-8") as f:
        return json.load(f)["body"]


@pytest.fixture()
def empty_app(monkeypatch):
    """The state before the bootstrap: every live object is None."""
    for name in ("opts", "cmd_opts", "checkpoints", "face_restorers", "vae_files"):
        monkeypatch.setattr(shared, name, None)
    monkeypatch.setattr(shared, "sd_upscalers", [])


@pytest.fixture()
def options():
    return build_catalogue()


def _relative(value):
    return value.replace("<data-dir>/", "") if isinstance(value, str) else value


def test_every_key_of_a1111_with_its_default(a1111, options):
    for key, value in a1111.items():
        assert key in options, key
        expected = RUNTIME_VALUES.get(key, _relative(value))
        assert options[key].default == expected, key
        assert type(options[key].default) is type(expected), key


def test_key_order_is_a1111s_with_extension_settings_after(a1111, options):
    keys = list(options)
    assert keys[:len(a1111)] == list(a1111)
    tail = keys[len(a1111):]
    assert set(tail[:len(tail) - len(PROJECT_ONLY)]) == set(APPENDIX_ONLY) | {"hypertile_explanation"}
    assert {key: options[key].default for key in tail[-len(PROJECT_ONLY):]} == PROJECT_ONLY


def test_settings_added_when_the_ui_is_built(options):
    for key, default in APPENDIX_ONLY.items():
        assert options[key].default == default, key
    assert options["ldsr_steps"].section == ("upscaling", "Upscaling")
    assert options["hypertile_enable_unet"].section == ("hypertile", "Hypertile")


def test_labels(options):
    for key, info in options.items():
        if isinstance(info, OptionHTML):
            assert info.label == "" and info.do_not_save, key
        else:
            assert isinstance(info.label, str) and info.label.strip(), key
    assert options["CLIP_stop_at_last_layers"].label == "Clip skip"
    assert options["sd_model_checkpoint"].label == "Stable Diffusion checkpoint"
    assert options["live_preview_refresh_period"].label == "Progressbar and preview update period"


@pytest.mark.parametrize("key", ["profiling_explanation", "sd_vae_explanation", "infotext_explanation", "settings_in_ui"])
def test_explanations_are_html_with_a1111s_text(a1111, options, key):
    info = options[key]
    assert isinstance(info, OptionHTML)
    assert info.component == "HTML"
    assert info.default == a1111[key]


def test_sections(options):
    for key, info in options.items():
        section = info.section
        assert isinstance(section, tuple) and len(section) == 2, key
        assert isinstance(section[1], str) and section[1], key
        # A1111 hides settings whose section id is None; only the hidden options use it
        assert isinstance(section[0], str) or section == (None, "Hidden options"), key
        assert info.category_id in CATEGORIES, key


@pytest.mark.parametrize("key, section, category", [
    ("samples_save", ("saving-images", "Saving images/grids"), "saving"),
    ("outdir_samples", ("saving-paths", "Paths for saving"), "saving"),
    ("save_to_dirs", ("saving-to-dirs", "Saving to a directory"), "saving"),
    ("ESRGAN_tile", ("upscaling", "Upscaling"), "postprocessing"),
    ("SWIN_tile", ("upscaling", "Upscaling"), "postprocessing"),
    ("face_restoration", ("face-restoration", "Face restoration"), "postprocessing"),
    ("show_warnings", ("system", "System"), "system"),
    ("profiling_enable", ("profiler", "Profiler"), "system"),
    ("api_useragent", ("API", "API"), "system"),
    ("pin_memory", ("training", "Training"), "training"),
    ("sd_unet", ("sd", "Stable Diffusion"), "sd"),
    ("enable_prompt_comments", ("sd", "Stable Diffusion"), "sd"),
    ("sdxl_crop_top", ("sdxl", "Stable Diffusion XL"), "sd"),
    ("sd3_enable_t5", ("sd3", "Stable Diffusion 3"), "sd"),
    ("sd_vae", ("vae", "VAE"), "sd"),
    ("overlay_inpaint", ("img2img", "img2img"), "sd"),
    ("fp8_storage", ("optimizations", "Optimizations"), "sd"),
    ("lora_functional", ("compatibility", "Compatibility"), "sd"),
    ("interrogate_return_ranks", ("interrogate", "Interrogate"), None),
    ("sd_lora", ("extra_networks", "Extra Networks"), "sd"),
    ("keyedit_move", ("ui_prompt_editing", "Prompt editing"), "ui"),
    ("return_grid", ("ui_gallery", "Gallery"), "ui"),
    ("compact_prompt_box", ("ui_alternatives", "UI alternatives"), "ui"),
    ("localization", ("ui", "User interface"), "ui"),
    ("enable_pnginfo", ("infotext", "Infotext"), "ui"),
    ("show_progressbar", ("ui", "Live previews"), "ui"),
    ("eta_ddim", ("sampler-params", "Sampler parameters"), "sd"),
    ("upscaling_max_images_in_cache", ("postprocessing", "Postprocessing"), "postprocessing"),
    ("sd_checkpoint_hash", (None, "Hidden options"), None),
    ("canvas_hotkey_zoom", ("canvas_hotkey", "Canvas Hotkeys"), None),
    ("extra_options_cols", ("settings_in_ui", "Settings in UI"), "ui"),
])
def test_a1111_section_ids(options, key, section, category):
    assert options[key].section == section
    assert options[key].category_id == category


def test_component_names(options):
    for key, info in options.items():
        assert info.component is None or isinstance(info.component, str), key
        assert info.component in ALLOWED_COMPONENTS, key


def test_import_and_build_do_not_load_gradio():
    code = "import sys; from modules.core.options.catalogue import build_catalogue; build_catalogue(); print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_app_dependent_choices_are_read_only_when_asked(monkeypatch):
    calls = []

    class Registry:
        def titles(self):
            calls.append(1)
            return ["a.safetensors [0123456789]", "b.ckpt"]

    monkeypatch.setattr(shared, "checkpoints", Registry())
    info = build_catalogue()["sd_model_checkpoint"]
    assert callable(info.component_args) and calls == []
    assert info.resolved_component_args() == {"choices": ["a.safetensors [0123456789]", "b.ckpt"]}
    assert calls == [1]


def test_choices_before_the_app_exists(empty_app):
    options = build_catalogue()
    assert options["sd_model_checkpoint"].resolved_component_args() == {"choices": []}
    assert options["sd_vae"].resolved_component_args()["choices"] == ["Automatic", "None"]
    for key in ("sd_unet", "cross_attention_optimization"):
        choices = options[key].resolved_component_args()["choices"]
        assert choices[0] == "Automatic" and choices[-1] == "None", key
    assert options["sd_hypernetwork"].resolved_component_args()["choices"][0] == "None"
    assert options["sd_lora"].resolved_component_args()["choices"][0] == "None"
    for key, info in options.items():
        if callable(info.component_args):
            args = info.resolved_component_args()
            assert isinstance(args, dict), key
            assert isinstance(args.get("choices", []), list), key


def test_choices_from_the_running_app(empty_app, monkeypatch):
    restorer = types.SimpleNamespace(name=lambda: "CodeFormer")
    monkeypatch.setattr(shared, "face_restorers", types.SimpleNamespace(restorers=[restorer]))
    monkeypatch.setattr(shared, "sd_upscalers", [types.SimpleNamespace(name="None"), types.SimpleNamespace(name="Lanczos")])
    monkeypatch.setattr(shared, "vae_files", {"kl-f8.safetensors": "/x/kl-f8.safetensors"})
    monkeypatch.setattr(shared, "opts", types.SimpleNamespace(data_labels=build_catalogue()))
    options = build_catalogue()
    assert options["face_restoration_model"].resolved_component_args() == {"choices": ["CodeFormer"]}
    assert options["upscaler_for_img2img"].resolved_component_args() == {"choices": ["None", "Lanczos"]}
    assert options["sd_vae"].resolved_component_args()["choices"] == ["Automatic", "None", "kl-f8.safetensors"]
    quick = options["quicksettings_list"].resolved_component_args()
    assert quick["multiselect"] is True and "sd_model_checkpoint" in quick["choices"]
    assert "Clip skip" in options["infotext_skip_pasting"].resolved_component_args()["choices"]


def test_sliders(empty_app, options):
    for key, info in options.items():
        if info.component != "Slider":
            continue
        args = info.resolved_component_args()
        assert args["minimum"] < args["maximum"], key
        assert args["step"] > 0, key
        assert args["minimum"] <= info.default <= args["maximum"], key


def test_static_choices_hold_the_default(empty_app, options):
    for key, info in options.items():
        if info.component not in ("Dropdown", "Radio", "CheckboxGroup"):
            continue
        choices = info.resolved_component_args().get("choices")
        if not choices:
            continue  # filled by the running app
        values = info.default if isinstance(info.default, list) else [info.default]
        assert set(values) <= set(choices), key


def test_restricted_for_the_api_as_a1111(options):
    assert {k for k, v in options.items() if v.restrict_api} == {"api_enable_requests", "api_forbid_local_requests", "api_useragent"}


def test_reload_ui_marks(options):
    marked = {k for k, v in options.items() if "(requires Reload UI)" in v.comment_after}
    assert marked == REQUIRES_RELOAD_UI
    assert not any("(requires restart)" in v.comment_after for v in options.values())


@pytest.mark.parametrize("key, name", [
    ("sd_model_checkpoint", "Model hash"), ("sd_vae", "VAE"), ("CLIP_stop_at_last_layers", "Clip skip"),
    ("randn_source", "RNG"), ("emphasis", "Emphasis"), ("eta_noise_seed_delta", "ENSD"),
    ("initial_noise_multiplier", "Noise multiplier"), ("s_min_uncond", "NGMS"), ("sd_noise_schedule", "Noise Schedule"),
    ("skip_early_cond", "Skip Early CFG"), ("hires_fix_refiner_pass", "Hires refiner"), ("face_restoration", "Face restoration"),
])
def test_infotext_names(options, key, name):
    assert options[key].infotext == name


def test_infotext_names_are_unique(options):
    names = [v.infotext for v in options.values() if v.infotext]
    assert len(names) == len(set(names))


def test_emphasis_modes(options):
    info = options["emphasis"]
    assert info.component == "Radio"
    assert info.component_args == {"choices": ["None", "Ignore", "Original", "No norm"]}
    assert "No norm: same as original, but without normalization" in info.comment_after


def test_directory_settings_hide_with_hide_ui_dir_config(empty_app, monkeypatch):
    options = build_catalogue()
    assert options["outdir_samples"].resolved_component_args() == {"visible": True}
    monkeypatch.setattr(shared, "cmd_opts", types.SimpleNamespace(hide_ui_dir_config=True))
    assert options["outdir_samples"].resolved_component_args() == {"visible": False}
    assert options["directories_max_prompt_words"].resolved_component_args() == {"minimum": 1, "maximum": 20, "step": 1, "visible": False}
    assert options["save_images_replace_action"].resolved_component_args()["choices"] == ["Replace", "Add number suffix"]
    dir_keys = {k for k, v in options.items() if k.startswith("outdir_")}
    assert dir_keys <= cat.RESTRICTED_OPTS


def test_console_prompts_default_follows_the_flag():
    assert build_catalogue()["enable_console_prompts"].default is False
    flags = types.SimpleNamespace(enable_console_prompts=True)
    assert build_catalogue(flags)["enable_console_prompts"].default is True


def test_each_build_makes_fresh_objects():
    first, second = build_catalogue(), build_catalogue()
    assert first["samples_save"] is not second["samples_save"]
    first["keyedit_delimiters_whitespace"].default.append("x")
    assert second["keyedit_delimiters_whitespace"].default == ["Tab", "Carriage Return", "Line Feed"]


def test_onchange_is_left_to_the_bootstrap(options):
    assert all(v.onchange is None for v in options.values())
    assert set(RELOADS_ON_CHANGE) <= set(options)
