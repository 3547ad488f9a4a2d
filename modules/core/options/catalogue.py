"""The catalogue of every A1111 1.10.1 setting: key, default, label, component and Settings page.

Declared as data, one module per Settings section (:mod:`modules.core.options.sections`), and
assembled here in A1111's registration order (the order of ``GET /sdapi/v1/options``), then the
settings built-in extensions add when the UI settings are built (LDSR, ScuNET, SwinIR, Hypertile).
:func:`build_catalogue` makes fresh :class:`OptionInfo` objects, so each Options instance (and
each test) owns its own.

Nothing here imports gradio or touches the running app at import time:

* ``component`` is a gradio class name (``"Slider"``) or ``None``, where A1111 also
  gives none and the Settings tab picks a Checkbox / Textbox / Number from the
  default's type.  A1111's ``DropdownMulti`` and ``DropdownEditable`` are written as
  ``"Dropdown"`` with ``multiselect`` / ``allow_custom_value``; ``FormColorPicker``
  as ``"ColorPicker"``.
* choices that depend on the running app (checkpoints, VAEs, upscalers, samplers...)
  are zero-argument callables (:mod:`~modules.core.options.live_choices`) that read the
  installed services or the lists registered at start-up
  (:mod:`~modules.core.options.choice_providers`) when the Settings tab calls them, and
  answer an empty list when that part of the app is not there.

Path defaults are relative to the data dir (the data dir is applied at use).

``onchange`` is left empty: the bootstrap registers the handlers.
:data:`RELOADS_ON_CHANGE` lists the keys A1111 does something for when they
change, and what it does.
"""
from __future__ import annotations

from typing import Any, Callable

from modules.core.options import live_choices
from modules.core.options.live_choices import UI_REORDER_BUILTIN  # noqa: F401  (was importable from here)
from modules.core.options.option_info import OptionInfo
from modules.core.options.sections import (
    api,
    canvas_hotkeys,
    compatibility,
    extension_upscalers,
    extra_networks,
    face_restoration,
    forge_modules,
    gallery,
    hidden,
    hypertile,
    img2img,
    infotext,
    interrogate,
    live_previews,
    lora,
    optimizations,
    postprocessing,
    profiler,
    prompt_comments,
    prompt_editing,
    sampler_params,
    saving_images,
    saving_paths,
    saving_to_dirs,
    sd3,
    sdxl,
    settings_in_ui,
    stable_diffusion,
    system,
    training,
    ui_alternatives,
    upscaling,
    user_interface,
    vae,
)
from modules.core.options.sections.builders import WIKI_FILENAMES  # noqa: F401  (was importable from here)
from modules.core.options.sections.stable_diffusion import EMPHASIS_MODES  # noqa: F401  (was importable from here)
from modules.core.options.sections.user_interface import GRADIO_HF_HUB_THEMES  # noqa: F401  (was importable from here)

RELOADS_ON_CHANGE: dict[str, str] = {
    # A1111 initialize_util.configure_opts_onchange (the reloads run through the job queue)
    "sd_model_checkpoint": "reload the checkpoint weights",
    "sd_vae": "reload the VAE weights",
    "sd_vae_overrides_per_model_preferences": "reload the VAE weights",
    "temp_dir": "switch gradio's temporary folder (ui_tempdir.on_tmpdir_changed)",
    "gradio_theme": "reload the gradio theme",
    "cross_attention_optimization": "re-apply the cross-attention optimization to the loaded model",
    "fp8_storage": "reload the checkpoint weights",
    "cache_fp16_weight": "reload the checkpoint weights (forced)",
    # onchange given in the option itself
    "sd_webui_modal_lightbox_icon_opacity": "reload the gradio theme",
    "sd_webui_modal_lightbox_toolbar_opacity": "reload the gradio theme",
    # built-in Lora extension
    "lora_in_memory_limit": "purge cached Lora networks beyond the limit",
}
"""Keys A1111 reacts to when they change (besides the Reload UI / restart notes)."""

RESTRICTED_OPTS = frozenset({
    "samples_filename_pattern", "directories_filename_pattern",
    "outdir_samples", "outdir_txt2img_samples", "outdir_img2img_samples", "outdir_extras_samples",
    "outdir_grids", "outdir_txt2img_grids", "outdir_img2img_grids", "outdir_save", "outdir_init_images",
    "temp_dir", "clean_temp_dir_at_start",
})
"""Settings ``--hide-ui-dir-config`` forbids changing: A1111's ``restricted_opts``, plus
``outdir_img2img_grids``, which A1111 hides but forgot to protect."""

OUTPUT_DIR_OPTS = frozenset({
    "outdir_samples", "outdir_txt2img_samples", "outdir_img2img_samples", "outdir_extras_samples",
    "outdir_grids", "outdir_txt2img_grids", "outdir_img2img_grids", "outdir_save", "outdir_init_images",
    "temp_dir",
})
"""Folders the app writes into (``temp_dir``'s PNG files are even deleted at start): a change must stay
inside the data dir, or inside a folder named by ``--gradio-allowed-path``."""

OUTPUT_FILE_OPTS = frozenset({"profiling_filename"})
"""Files the app writes: kept inside the data dir like :data:`OUTPUT_DIR_OPTS`."""

FILENAME_PATTERN_OPTS = frozenset({"samples_filename_pattern", "directories_filename_pattern", "grid_zip_filename_pattern"})
"""Name patterns joined to an output folder: no absolute path, no ``..`` part."""

IMAGE_FORMAT_OPTS = frozenset({"samples_format", "grid_format"})
"""File extensions pictures are saved with: one of :data:`IMAGE_FORMATS` that Pillow can write."""

IMAGE_FORMATS = ("png", "jpg", "jpeg", "webp", "avif", "jxl", "gif", "bmp", "tif", "tiff")
"""The picture formats ``samples_format`` / ``grid_format`` may name (any case), when Pillow can write them."""

EXTENSION_OPTS = frozenset({"disabled_extensions", "disable_all_extensions", "restore_config_state_file"})
"""Settings that decide which code runs (which extensions load; a config state hard-resets extension and
web UI repositories at the next start): frozen while extension access is off."""

FREE_LIST_OPTS = frozenset({
    "quicksettings_list", "extra_options_txt2img", "extra_options_img2img", "ui_tab_order", "hidden_tabs",
    "ui_reorder_list", "infotext_skip_pasting",
    "postprocessing_enable_in_main_ui", "postprocessing_disable_in_extras", "postprocessing_operation_order",
})
"""Multi-select settings naming settings, tabs, page blocks, infotext fields or postprocessing operations:
their lists change with the extensions loaded and the page built (the Extras operations Upscale, GFPGAN
and CodeFormer are not among the listed scripts), and an unknown name is ignored where they are used, so
any names (strings) are accepted."""

NUMBER_LIMITS: dict[str, tuple[float | None, float | None]] = {
    # Number fields without a range in the Settings tab, where a value out of these bounds breaks saving,
    # grids or the page for every later job
    "target_side_length": (1, None),
    "img_downscale_threshold": (0, None),
    "img_max_size_mp": (0.01, None),
    "training_write_csv_every": (0, None),
    "training_image_repeats_per_epoch": (1, None),
    "training_tensorboard_flush_every": (1, None),
    "interrogate_clip_dict_limit": (0, None),
    "extra_networks_card_width": (0, None),
    "extra_networks_card_height": (0, None),
    "extra_networks_tree_view_default_width": (0, None),
    "lora_in_memory_limit": (0, None),
    "js_modal_lightbox_gamepad_repeat": (0, None),
    "live_preview_refresh_period": (0, None),
    "sigma_min": (0, None),
    "sigma_max": (0, None),
    "rho": (0, None),
}
"""``key -> (minimum, maximum)`` checked besides the ranges the components declare (``None``: no bound)."""

LIVE_CHOICE_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "sd_model_checkpoint": live_choices.check_checkpoint,
    "sd_vae": live_choices.check_vae,
}
"""Settings whose value is checked against the running app by a function (``None``: fine, else why not);
other settings with a choices function are checked against the list it gives, when it gives one."""


def _pages(console_prompts: bool) -> list[Callable[[], dict[str, OptionInfo]]]:
    return [
        saving_images.options, saving_paths.options, saving_to_dirs.options, upscaling.options,
        face_restoration.options, lambda: system.options(console_prompts), profiler.options, api.options,
        training.options,
        stable_diffusion.options, sdxl.options, sd3.options, vae.options, img2img.options, optimizations.options,
        compatibility.options, interrogate.options, extra_networks.options,
        prompt_editing.options, gallery.options, ui_alternatives.options, user_interface.options, infotext.options,
        live_previews.options, sampler_params.options, postprocessing.options, hidden.options,
        lora.options, canvas_hotkeys.options, settings_in_ui.options, prompt_comments.options,
        extension_upscalers.options, hypertile.options,
        optimizations.project_options,  # this project's own keys, after all of A1111's
        forge_modules.project_options,  # Forge's key for GGUF models' text encoders / VAE
    ]


def build_catalogue(cmd_opts: Any = None) -> dict[str, OptionInfo]:
    """Every built-in setting, in A1111's registration order.

    ``cmd_opts`` (the parsed flags) only sets the default of ``enable_console_prompts``
    from ``--enable-console-prompts``, as A1111 does.
    """
    catalogue: dict[str, OptionInfo] = {}
    for page in _pages(bool(getattr(cmd_opts, "enable_console_prompts", False))):
        catalogue.update(page())
    return catalogue
