"""Every setting the catalogue declares either changes something or says in its label that it does not apply to this
build.  "Read nowhere" is computed from the source (the key's name outside ``modules/core/options/``), so the list of
unused keys below can only shrink: a key that gets its behaviour must leave it (and lose its label), a new key read
nowhere fails until it is given its behaviour or its label.  Settings other helpers own (SD3, interrogation,
memory/FP8) are left to them."""
from __future__ import annotations

import os
import re

import pytest

from modules.core.options.catalogue import build_catalogue
from modules.core.options.option_info import NOT_IN_THIS_BUILD, OptionInfo

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CATALOGUE_DIR = os.path.join(ROOT, "modules", "core", "options")
SOURCE_DIRS = ("modules", "scripts", "extensions-builtin", "javascript")
SOURCE_FILES = ("webui.py", "launch.py", "script.js")

KNOWN_UNUSED = {
    "use_upscaler_name_as_suffix", "SWIN_torch_compile", "show_warnings",
    "show_gradio_deprecation_warnings", "multiple_tqdm", "enable_upscale_progressbar", "print_hypernet_extra",
    "disable_mmap_load_safetensors", "hide_ldm_prints", "dump_stacks_on_signal", "sd_checkpoint_cache", "sd_unet",
    "sd_vae_checkpoint_cache", "auto_vae_precision_bfloat16", "auto_vae_precision", "sd_vae_encode_method",
    "sd_vae_decode_method", "open_dir_button_choice", "compact_prompt_box", "sd_checkpoint_dropdown_use_short",
    "enable_reloading_ui_scripts", "live_preview_fast_interrupt", "restore_config_state_file",
    "lora_bundled_ti_to_infotext", "lora_not_found_gradio_warning",
}
"""Declared, read nowhere, labelled not applicable: this set may only lose keys."""

READ_BY_COMPUTED_NAME = {
    "outdir_txt2img_grids": ("modules/processing/image_saving.py", 'f"outdir_{tab}_{kind}"'),
    "outdir_img2img_grids": ("modules/processing/image_saving.py", 'f"outdir_{tab}_{kind}"'),
    "txt2img_settings_accordion": ("modules/ui/generation_tab.py", 'f"{tabname}_settings_accordion"'),
    "img2img_settings_accordion": ("modules/ui/generation_tab.py", 'f"{tabname}_settings_accordion"'),
}
"""Keys read through a name built at run time: the file and the expression that builds it."""

OWNED_ELSEWHERE_PREFIXES = ("sd3_", "interrogate_", "deepbooru_")
OWNED_ELSEWHERE_SECTIONS: set[str] = set()
OWNED_ELSEWHERE_KEYS = {
    # memory and FP8 (the memory manager's helper)
    "fp8_storage", "cache_fp16_weight", "memory_reserve_mb", "sd_checkpoints_limit", "sd_checkpoints_keep_in_cpu",
    "live_preview_allow_lowvram_full",
}


def owned_elsewhere(key: str, info: OptionInfo) -> bool:
    section = info.section[0] if info.section else None
    return key.startswith(OWNED_ELSEWHERE_PREFIXES) or section in OWNED_ELSEWHERE_SECTIONS or key in OWNED_ELSEWHERE_KEYS


def source_text() -> str:
    """Every .py and .js file of the product outside the catalogue, joined."""
    texts = []
    paths = [os.path.join(ROOT, f) for f in SOURCE_FILES]
    for folder in SOURCE_DIRS:
        for base, dirs, files in os.walk(os.path.join(ROOT, folder)):
            dirs[:] = [d for d in dirs if d != "__pycache__" and os.path.join(base, d) != CATALOGUE_DIR]
            paths += [os.path.join(base, f) for f in files if f.endswith((".py", ".js"))]
    for path in paths:
        if os.path.isfile(path):
            with open(path, encoding="utf8", errors="replace") as f:
                texts.append(f.read())
    return "\n".join(texts)


def unused_keys(catalogue: dict[str, OptionInfo], text: str) -> set[str]:
    """Keys (not HTML notes) whose name appears nowhere in ``text`` and that no computed name reads."""
    return {key for key, info in catalogue.items()
            if info.component_name != "HTML" and key not in READ_BY_COMPUTED_NAME
            and not re.search(r"\b" + re.escape(key) + r"\b", text)}


@pytest.fixture(scope="module")
def catalogue():
    return build_catalogue()


@pytest.fixture(scope="module")
def unused(catalogue):
    return unused_keys(catalogue, source_text())


def test_no_new_setting_is_read_nowhere(catalogue, unused):
    new = sorted(k for k in unused - KNOWN_UNUSED if not owned_elsewhere(k, catalogue[k]))
    assert not new, (f"settings declared but read nowhere: {new}; give them their behaviour, or mark them "
                     "OptionInfo(...).not_in_this_build(why) and add them to KNOWN_UNUSED")


def test_the_unused_list_only_shrinks(unused):
    now_used = sorted(KNOWN_UNUSED - unused)
    assert not now_used, f"these settings are read now: remove them from KNOWN_UNUSED and drop their label: {now_used}"


def test_every_unused_setting_says_it_does_not_apply(catalogue, unused):
    unlabelled = sorted(k for k in unused if not owned_elsewhere(k, catalogue[k])
                        and not catalogue[k].label.endswith(NOT_IN_THIS_BUILD))
    assert not unlabelled, f"unused settings whose label does not say so: {unlabelled}"


def test_only_unused_settings_say_they_do_not_apply(catalogue, unused):
    labelled = {k for k, info in catalogue.items() if NOT_IN_THIS_BUILD in info.label}
    assert labelled <= unused, f"settings that work but are labelled not applicable: {sorted(labelled - unused)}"


def test_computed_names_are_still_in_their_files():
    for key, (path, expression) in READ_BY_COMPUTED_NAME.items():
        with open(os.path.join(ROOT, path), encoding="utf8") as f:
            assert expression in f.read(), f"{key}: {path} no longer builds its name with {expression}"


def test_the_detector_sees_a_planted_key(catalogue):
    planted = {**catalogue, "never_read_anywhere_xyz": OptionInfo(1, "Planted")}
    text = "opts.jpeg_quality"
    found = unused_keys(planted, text)
    assert "never_read_anywhere_xyz" in found and "jpeg_quality" not in found
    assert OptionInfo(1, "X").not_in_this_build("why").label == f"X {NOT_IN_THIS_BUILD}"
