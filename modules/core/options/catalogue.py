"""The catalogue of every A1111 1.10.1 setting: key, default, label, component and Settings page.

Declared as data, page by page in A1111's registration order (the order of
``GET /sdapi/v1/options``), then the settings built-in extensions add when the UI
settings are built (LDSR, ScuNET, SwinIR, Hypertile).  :func:`build_catalogue`
makes fresh :class:`OptionInfo` objects, so each Options instance (and each test)
owns its own.

Nothing here imports gradio or touches the running app at import time:

* ``component`` is a gradio class name (``"Slider"``) or ``None``, where A1111 also
  gives none and the Settings tab picks a Checkbox / Textbox / Number from the
  default's type.  A1111's ``DropdownMulti`` and ``DropdownEditable`` are written as
  ``"Dropdown"`` with ``multiselect`` / ``allow_custom_value``; ``FormColorPicker``
  as ``"ColorPicker"``.
* choices that depend on the running app (checkpoints, VAEs, upscalers, samplers...)
  are zero-argument callables that import what they need when the Settings tab
  calls them, and answer an empty list when that part of the app is not there.

Path defaults are relative to the data dir (the data dir is applied at use).

``onchange`` is left empty: the bootstrap registers the handlers.
:data:`RELOADS_ON_CHANGE` lists the keys A1111 does something for when they
change, and what it does.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any, Callable

from modules.core.options.option_info import OptionHTML, OptionInfo, options_section

WIKI_FILENAMES = "https://github.com/AUTOMATIC1111/stable-diffusion-webui/wiki/Custom-Images-Filename-Name-and-Subdirectory"

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

GRADIO_HF_HUB_THEMES = [
    "gradio/base", "gradio/glass", "gradio/monochrome", "gradio/seafoam", "gradio/soft", "gradio/dracula_test",
    "abidlabs/dracula_test", "abidlabs/Lime", "abidlabs/pakistan", "Ama434/neutral-barlow", "dawood/microsoft_windows",
    "finlaymacklon/smooth_slate", "Franklisi/darkmode", "freddyaboulton/dracula_revamped", "freddyaboulton/test-blue",
    "gstaff/xkcd", "Insuz/Mocha", "Insuz/SimpleIndigo", "JohnSmith9982/small_and_pretty", "nota-ai/theme",
    "nuttea/Softblue", "ParityError/Anime", "reilnuud/polite", "remilia/Ghostly", "rottenlittlecreature/Moon_Goblin",
    "step-3-profit/Midnight-Deep", "Taithrah/Minimal", "ysharma/huggingface", "ysharma/steampunk", "NoCrypt/miku",
]
"""The themes of the Hugging Face gallery offered by the ``gradio_theme`` dropdown (after ``Default``)."""

EMPHASIS_MODES = [
    ("None", "disable the mechanism entirely and treat (:.1.1) as literal characters"),
    ("Ignore", "treat all empasised words as if they have no emphasis"),
    ("Original", "the original emphasis implementation"),
    ("No norm", "same as original, but without normalization (seems to work better for SDXL)"),
]
"""The ``emphasis`` modes and the descriptions the setting's note lists."""

UI_REORDER_BUILTIN = [
    "prompt", "image", "inpaint", "sampler", "accordions", "checkboxes", "dimensions", "cfg", "denoising", "seed",
    "batch", "override_settings",
]
"""The txt2img/img2img blocks ``ui_reorder_list`` can move, before the scripts' own sections."""


# ---------------------------------------------------------------------------------------------------------------------
# Lazy look-ups: called by the Settings tab, never at import or build time.

def _shared(name: str) -> Any:
    from modules import shared

    return getattr(shared, name, None)


def _module_attr(module: str, attr: str) -> Any:
    """``module.attr`` when that module can be imported now, else ``None``."""
    try:
        return getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return None


def _call(module: str, func: str) -> Callable[[], Any]:
    """A refresh action: call ``module.func()`` if it exists."""
    def refresh() -> Any:
        target = _module_attr(module, func)
        return target() if callable(target) else None
    return refresh


def _choices(provider: Callable[[], Any], **extra: Any) -> Callable[[], dict]:
    return lambda: {"choices": list(provider() or []), **extra}


def _multi(provider: Callable[[], Any]) -> Callable[[], dict]:
    """A1111's ``DropdownMulti``."""
    return _choices(provider, multiselect=True)


def _dirs_visible() -> bool:
    cmd_opts = _shared("cmd_opts")
    return not getattr(cmd_opts, "hide_ui_dir_config", False)


def _hide_dirs(**args: Any) -> Callable[[], dict]:
    """A1111's ``hide_dirs``: the component is hidden under ``--hide-ui-dir-config``."""
    return lambda: {**args, "visible": _dirs_visible()}


def _names(items: Any) -> list[str]:
    """``x.name`` of each item, calling it when it is a method (face restorers)."""
    names = (getattr(x, "name", None) for x in items or [])
    return [n() if callable(n) else n for n in names if n is not None]


def _checkpoint_titles() -> list[str]:
    registry = _shared("checkpoints")
    return list(registry.titles()) if registry is not None else []


def _unet_choices() -> list[str]:
    return ["Automatic", *(x.label for x in _module_attr("modules.sd_unet", "unet_options") or []), "None"]


def _vae_choices() -> list[str]:
    registry = _shared("vae_files")  # the VaeRegistry of the running app (a plain dict in some callers)
    files = getattr(registry, "vae_dict", registry)
    return ["Automatic", "None", *(files or {})]


def _upscaler_names() -> list[str]:
    return _names(_shared("sd_upscalers"))


def _face_restorer_names() -> list[str]:
    restorers = _shared("face_restorers")
    return _names(getattr(restorers, "restorers", restorers))


def _builtin_model_names(table: str) -> list[str]:
    return [name for name, _url, _scale in _module_attr("modules.postprocess.model_upscalers", table) or []]


def _hypernetwork_choices() -> list[str]:
    live_registry = _module_attr("modules.networks.hypernetworks.setup", "live_registry")
    registry = live_registry() if callable(live_registry) else None
    if registry is not None:
        registry.ensure_listed()
    return ["None", *(getattr(registry, "available", None) or {})]


def _lora_networks() -> Any:
    """The built-in Lora extension's ``networks`` module, when the extension is loaded."""
    return sys.modules.get("networks")


def _lora_choices() -> list[str]:
    return ["None", *(getattr(_lora_networks(), "available_networks", None) or {})]


def _refresh_loras() -> None:
    list_available = getattr(_lora_networks(), "list_available_networks", None)
    if callable(list_available):
        list_available()


def _cross_attention_choices() -> list[str]:
    optimizers = _module_attr("modules.sd_hijack", "optimizers") or []
    return ["Automatic", *(x.title() for x in optimizers), "None"]


def _sampler_names() -> list[str]:
    return _names(_module_attr("modules.sd_samplers", "all_samplers"))


def _interrogate_categories() -> list[str]:
    category_types = _module_attr("modules.interrogate", "category_types")
    return list(category_types()) if callable(category_types) else []


def _postprocessing_names() -> list[str]:
    runner = _module_attr("modules.scripts", "scripts_postproc")
    return _names(getattr(runner, "scripts", None))


def _localization_choices() -> list[str]:
    return ["None", *(_module_attr("modules.localization", "localizations") or {})]


def _setting_keys() -> list[str]:
    opts = _shared("opts")
    return list(opts.data_labels) if opts is not None else []


def _tab_names() -> list[str]:
    return list(_shared("tab_names") or [])


def _ui_reorder_choices() -> list[str]:
    sections: dict[str, None] = {}
    for runner_name in ("scripts_txt2img", "scripts_img2img"):
        for script in getattr(_module_attr("modules.scripts", runner_name), "scripts", None) or []:
            section = getattr(script, "section", None)
            if isinstance(section, str) and section not in UI_REORDER_BUILTIN:
                sections[section] = None
    return [*UI_REORDER_BUILTIN, *sections, "scripts"]


def _infotext_names() -> list[str]:
    """Every infotext field name: those of settings, then those of the paste fields."""
    names: dict[str, None] = {}
    opts = _shared("opts")
    for info in (opts.data_labels.values() if opts is not None else []):
        if info.infotext:
            names[info.infotext] = None
    for tab_data in (_module_attr("modules.infotext_utils", "paste_fields") or {}).values():
        for _component, name in tab_data.get("fields") or []:
            if isinstance(name, str):
                names[name] = None
    return list(names)


def _check_checkpoint(value: Any) -> str | None:
    # A1111 accepts a checkpoint by title, file name, short name or hash: whatever its closest match finds
    registry = _shared("checkpoints")
    if value is None:
        return None
    if not isinstance(value, str):
        return f"a checkpoint is named by a string (title, file name or hash), got {type(value).__name__}"
    if registry is None:
        return None
    return None if registry.get_closest_match(value) is not None else f"checkpoint {value!r} not found"


def _check_vae(value: Any) -> str | None:
    registry = _shared("vae_files")
    if registry is None:
        return None
    files = getattr(registry, "vae_dict", registry) or {}
    if value in ("Automatic", "None") or value in files:
        return None
    return f"VAE {value!r} not found; choose Automatic, None or a file of models/VAE"


LIVE_CHOICE_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "sd_model_checkpoint": _check_checkpoint,
    "sd_vae": _check_vae,
}
"""Settings whose value is checked against the running app by a function (``None``: fine, else why not);
other settings with a choices function are checked against the list it gives, when it gives one."""


# ---------------------------------------------------------------------------------------------------------------------
# Small builders for the recurring component kinds.

def _slider(default: float, label: str, minimum: float, maximum: float, step: float, **kw: Any) -> OptionInfo:
    return OptionInfo(default, label, "Slider", {"minimum": minimum, "maximum": maximum, "step": step}, **kw)


def _radio(default: Any, label: str, choices: list, **kw: Any) -> OptionInfo:
    return OptionInfo(default, label, "Radio", {"choices": choices}, **kw)


def _color(default: str, label: str) -> OptionInfo:
    return OptionInfo(default, label, "ColorPicker", {})


def _number(default: float, label: str, **kw: Any) -> OptionInfo:
    return OptionInfo(default, label, "Number", **kw)


def _integer(default: int, label: str, **kw: Any) -> OptionInfo:
    return OptionInfo(default, label, "Number", {"precision": 0}, **kw)


# ---------------------------------------------------------------------------------------------------------------------
# Category "Saving images"

def _saving_images() -> dict[str, OptionInfo]:
    return options_section(("saving-images", "Saving images/grids", "saving"), {
        "samples_save": OptionInfo(True, "Always save all generated images"),
        "samples_format": OptionInfo("png", "File format for images"),
        "samples_filename_pattern": OptionInfo("", "Images filename pattern", component_args=_hide_dirs()).link("wiki", WIKI_FILENAMES),
        "save_images_add_number": OptionInfo(True, "Add number to filename when saving", component_args=_hide_dirs()),
        "save_images_replace_action": OptionInfo("Replace", "Saving the image to an existing file", "Radio", _hide_dirs(choices=["Replace", "Add number suffix"])),
        "grid_save": OptionInfo(True, "Always save all generated image grids"),
        "grid_format": OptionInfo("png", "File format for grids"),
        "grid_extended_filename": OptionInfo(False, "Add extended info (seed, prompt) to filename when saving grid"),
        "grid_only_if_multiple": OptionInfo(True, "Do not save grids consisting of one picture"),
        "grid_prevent_empty_spots": OptionInfo(False, "Prevent empty spots in grid (when set to autodetect)"),
        "grid_zip_filename_pattern": OptionInfo("", "Archive filename pattern", component_args=_hide_dirs()).link("wiki", WIKI_FILENAMES),
        "n_rows": _slider(-1, "Grid row count; use -1 for autodetect and 0 for it to be same as batch size", -1, 16, 1),
        "font": OptionInfo("", "Font for image grids that have text"),
        "grid_text_active_color": _color("#000000", "Text color for image grids"),
        "grid_text_inactive_color": _color("#999999", "Inactive text color for image grids"),
        "grid_background_color": _color("#ffffff", "Background color for image grids"),

        "save_images_before_face_restoration": OptionInfo(False, "Save a copy of image before doing face restoration."),
        "save_images_before_highres_fix": OptionInfo(False, "Save a copy of image before applying highres fix."),
        "save_images_before_color_correction": OptionInfo(False, "Save a copy of image before applying color correction to img2img results"),
        "save_mask": OptionInfo(False, "For inpainting, save a copy of the greyscale mask"),
        "save_mask_composite": OptionInfo(False, "For inpainting, save a masked composite"),
        "jpeg_quality": _slider(80, "Quality for saved jpeg and avif images", 1, 100, 1),
        "webp_lossless": OptionInfo(False, "Use lossless compression for webp images"),
        "export_for_4chan": OptionInfo(True, "Save copy of large images as JPG")
            .info("if the file size is above the limit, or either width or height are above the limit"),
        "img_downscale_threshold": _number(4.0, "File size limit for the above option, MB"),
        "target_side_length": _number(4000, "Width/height limit for the above option, in pixels"),
        "img_max_size_mp": _number(200, "Maximum image size").info("in megapixels"),

        "use_original_name_batch": OptionInfo(True, "Use original name for output filename during batch process in extras tab"),
        "use_upscaler_name_as_suffix": OptionInfo(False, "Use upscaler name as filename suffix in the extras tab"),
        "save_selected_only": OptionInfo(True, "When using 'Save' button, only save a single selected image"),
        "save_write_log_csv": OptionInfo(True, "Write log.csv when saving images using 'Save' button"),
        "save_init_img": OptionInfo(False, "Save init images when using img2img"),

        "temp_dir": OptionInfo("", "Directory for temporary images; leave empty for default"),
        "clean_temp_dir_at_start": OptionInfo(False, "Cleanup non-default temporary directory when starting webui"),

        "save_incomplete_images": OptionInfo(False, "Save incomplete images")
            .info("save images that has been interrupted in mid-generation; even if not saved, they will still show up in webui output."),

        "notification_audio": OptionInfo(True, "Play notification sound after image generation")
            .info("notification.mp3 should be present in the root directory")
            .needs_reload_ui(),
        "notification_volume": _slider(100, "Notification sound volume", 0, 100, 1).info("in %"),
    })


def _saving_paths() -> dict[str, OptionInfo]:
    def path(default: str, label: str) -> OptionInfo:
        return OptionInfo(default, label, component_args=_hide_dirs())

    return options_section(("saving-paths", "Paths for saving", "saving"), {
        "outdir_samples": path("", "Output directory for images; if empty, defaults to three directories below"),
        "outdir_txt2img_samples": path("outputs/txt2img-images", "Output directory for txt2img images"),
        "outdir_img2img_samples": path("outputs/img2img-images", "Output directory for img2img images"),
        "outdir_extras_samples": path("outputs/extras-images", "Output directory for images from extras tab"),
        "outdir_grids": path("", "Output directory for grids; if empty, defaults to two directories below"),
        "outdir_txt2img_grids": path("outputs/txt2img-grids", "Output directory for txt2img grids"),
        "outdir_img2img_grids": path("outputs/img2img-grids", "Output directory for img2img grids"),
        "outdir_save": path("log/images", "Directory for saving images using the Save button"),
        "outdir_init_images": path("outputs/init-images", "Directory for saving init images when using img2img"),
    })


def _saving_to_dirs() -> dict[str, OptionInfo]:
    return options_section(("saving-to-dirs", "Saving to a directory", "saving"), {
        "save_to_dirs": OptionInfo(True, "Save images to a subdirectory"),
        "grid_save_to_dirs": OptionInfo(True, "Save grids to a subdirectory"),
        "use_save_to_dirs_for_ui": OptionInfo(False, 'When using "Save" button, save images to a subdirectory'),
        "directories_filename_pattern": OptionInfo("[date]", "Directory name pattern", component_args=_hide_dirs()).link("wiki", WIKI_FILENAMES),
        "directories_max_prompt_words": OptionInfo(8, "Max prompt words for [prompt_words] pattern", "Slider", _hide_dirs(minimum=1, maximum=20, step=1)),
    })


# ---------------------------------------------------------------------------------------------------------------------
# Category "Postprocessing" (part 1) and "System"

def _upscaling() -> dict[str, OptionInfo]:
    return options_section(("upscaling", "Upscaling", "postprocessing"), {
        "ESRGAN_tile": _slider(192, "Tile size for ESRGAN upscalers.", 0, 512, 16).info("0 = no tiling"),
        "ESRGAN_tile_overlap": _slider(8, "Tile overlap for ESRGAN upscalers.", 0, 48, 1).info("Low values = visible seam"),
        "realesrgan_enabled_models": OptionInfo(["R-ESRGAN 4x+", "R-ESRGAN 4x+ Anime6B"], "Select which Real-ESRGAN models to show in the web UI.", "CheckboxGroup", _choices(lambda: _builtin_model_names("REALESRGAN_BUILTIN"))),
        "dat_enabled_models": OptionInfo(["DAT x2", "DAT x3", "DAT x4"], "Select which DAT models to show in the web UI.", "CheckboxGroup", _choices(lambda: _builtin_model_names("DAT_BUILTIN"))),
        "DAT_tile": _slider(192, "Tile size for DAT upscalers.", 0, 512, 16).info("0 = no tiling"),
        "DAT_tile_overlap": _slider(8, "Tile overlap for DAT upscalers.", 0, 48, 1).info("Low values = visible seam"),
        "upscaler_for_img2img": OptionInfo(None, "Upscaler for img2img", "Dropdown", _choices(_upscaler_names)),
        "set_scale_by_when_changing_upscaler": OptionInfo(False, "Automatically set the Scale by factor based on the name of the selected Upscaler."),
    })


def _face_restoration() -> dict[str, OptionInfo]:
    return options_section(("face-restoration", "Face restoration", "postprocessing"), {
        "face_restoration": OptionInfo(False, "Restore faces", infotext="Face restoration")
            .info("will use a third-party model on generation result to reconstruct faces"),
        "face_restoration_model": OptionInfo("CodeFormer", "Face restoration model", "Radio", _choices(_face_restorer_names)),
        "code_former_weight": _slider(0.5, "CodeFormer weight", 0, 1, 0.01).info("0 = maximum effect; 1 = minimum effect"),
        "face_restoration_unload": OptionInfo(False, "Move face restoration model from VRAM into RAM after processing"),
    })


def _system(console_prompts: bool) -> dict[str, OptionInfo]:
    return options_section(("system", "System", "system"), {
        "auto_launch_browser": _radio("Local", "Automatically open webui in browser on startup", ["Disable", "Local", "Remote"]),
        "enable_console_prompts": OptionInfo(console_prompts, "Print prompts to console when generating with txt2img and img2img."),
        "show_warnings": OptionInfo(False, "Show warnings in console.").needs_reload_ui(),
        "show_gradio_deprecation_warnings": OptionInfo(True, "Show gradio deprecation warnings in console.").needs_reload_ui(),
        "memmon_poll_rate": _slider(8, "VRAM usage polls per second during generation.", 0, 40, 1).info("0 = disable"),
        "samples_log_stdout": OptionInfo(False, "Always print all generation info to standard output"),
        "multiple_tqdm": OptionInfo(True, "Add a second progress bar to the console that shows progress for an entire job."),
        "enable_upscale_progressbar": OptionInfo(True, "Show a progress bar in the console for tiled upscaling."),
        "print_hypernet_extra": OptionInfo(False, "Print extra hypernetwork information to console."),
        "list_hidden_files": OptionInfo(True, "Load models/files in hidden directories").info('directory is hidden if its name starts with "."'),
        "disable_mmap_load_safetensors": OptionInfo(False, "Disable memmapping for loading .safetensors files.")
            .info("fixes very slow loading speed in some cases"),
        "hide_ldm_prints": OptionInfo(True, "Prevent Stability-AI's ldm/sgm modules from printing noise to console."),
        "dump_stacks_on_signal": OptionInfo(False, "Print stack traces before exiting the program with ctrl+c."),
    })


def _profiler() -> dict[str, OptionInfo]:
    return options_section(("profiler", "Profiler", "system"), {
        "profiling_explanation": OptionHTML("""
Those settings allow you to enable torch profiler when generating pictures.
Profiling allows you to see which code uses how much of computer's resources during generation.
Each generation writes its own profile to one file, overwriting previous.
The file can be viewed in <a href="chrome:tracing">Chrome</a>, or on a <a href="https://ui.perfetto.dev/">Perfetto</a> web site.
Warning: writing profile can take a lot of time, up to 30 seconds, and the file itelf can be around 500MB in size.
"""),
        "profiling_enable": OptionInfo(False, "Enable profiling"),
        "profiling_activities": OptionInfo(["CPU"], "Activities", "CheckboxGroup", {"choices": ["CPU", "CUDA"]}),
        "profiling_record_shapes": OptionInfo(True, "Record shapes"),
        "profiling_profile_memory": OptionInfo(True, "Profile memory"),
        "profiling_with_stack": OptionInfo(True, "Include python stack"),
        "profiling_filename": OptionInfo("trace.json", "Profile filename"),
    })


def _api() -> dict[str, OptionInfo]:
    return options_section(("API", "API", "system"), {
        "api_enable_requests": OptionInfo(True, "Allow http:// and https:// URLs for input images in API", restrict_api=True),
        "api_forbid_local_requests": OptionInfo(True, "Forbid URLs to local resources", restrict_api=True),
        "api_useragent": OptionInfo("", "User agent for requests", restrict_api=True),
    })


# ---------------------------------------------------------------------------------------------------------------------
# Category "Training"

def _training() -> dict[str, OptionInfo]:
    return options_section(("training", "Training", "training"), {
        "unload_models_when_training": OptionInfo(False, "Move VAE and CLIP to RAM when training if possible. Saves VRAM."),
        "pin_memory": OptionInfo(False, "Turn on pin_memory for DataLoader. Makes training slightly faster but can increase memory usage."),
        "save_optimizer_state": OptionInfo(False, "Saves Optimizer state as separate *.optim file. Training of embedding or HN can be resumed with the matching optim file."),
        "save_training_settings_to_txt": OptionInfo(True, "Save textual inversion and hypernet settings to a text file whenever training starts."),
        "dataset_filename_word_regex": OptionInfo("", "Filename word regex"),
        "dataset_filename_join_string": OptionInfo(" ", "Filename join string"),
        "training_image_repeats_per_epoch": _integer(1, "Number of repeats for a single input image per epoch; used only for displaying epoch number"),
        "training_write_csv_every": OptionInfo(500, "Save an csv containing the loss to log directory every N steps, 0 to disable"),
        "training_xattention_optimizations": OptionInfo(False, "Use cross attention optimizations while training"),
        "training_enable_tensorboard": OptionInfo(False, "Enable tensorboard logging."),
        "training_tensorboard_save_images": OptionInfo(False, "Save generated images within tensorboard."),
        "training_tensorboard_flush_every": OptionInfo(120, "How often, in seconds, to flush the pending tensorboard events and summaries to disk."),
    })


# ---------------------------------------------------------------------------------------------------------------------
# Category "Stable Diffusion"

def _stable_diffusion() -> dict[str, OptionInfo]:
    emphasis_note = "makes it possible to make model to pay (more:1.1) or (less:0.9) attention to text when you use the syntax in prompt; "
    emphasis_note += ", ".join(f"{name}: {description}" for name, description in EMPHASIS_MODES)
    return options_section(("sd", "Stable Diffusion", "sd"), {
        "sd_model_checkpoint": OptionInfo(None, "Stable Diffusion checkpoint", "Dropdown", _choices(_checkpoint_titles), refresh=_call("modules.sd_models", "list_models"), infotext="Model hash"),
        "sd_checkpoints_limit": _slider(1, "Maximum number of checkpoints loaded at the same time", 1, 10, 1),
        "sd_checkpoints_keep_in_cpu": OptionInfo(True, "Only keep one model on device")
            .info("will keep models other than the currently used one in RAM rather than VRAM"),
        "sd_checkpoint_cache": _slider(0, "Checkpoints to cache in RAM", 0, 10, 1).info("obsolete; set to 0 and use the two settings above instead"),
        "sd_unet": OptionInfo("Automatic", "SD Unet", "Dropdown", _choices(_unet_choices), refresh=_call("modules.sd_unet", "list_unets"))
            .info("choose Unet model: Automatic = use one with same filename as checkpoint; None = use Unet from checkpoint"),
        "enable_quantization": OptionInfo(False, "Enable quantization in K samplers for sharper and cleaner results. This may change existing seeds").needs_reload_ui(),
        "emphasis": _radio("Original", "Emphasis mode", [name for name, _ in EMPHASIS_MODES], infotext="Emphasis").info(emphasis_note),
        "enable_batch_seeds": OptionInfo(True, "Make K-diffusion samplers produce same images in a batch as when making a single image"),
        "comma_padding_backtrack": _slider(20, "Prompt word wrap length limit", 0, 74, 1)
            .info("in tokens - for texts shorter than specified, if they don't fit into 75 token limit, move them to the next 75 token chunk"),
        "sdxl_clip_l_skip": OptionInfo(False, "Clip skip SDXL", "Checkbox")
            .info("Enable Clip skip for the secondary clip model in sdxl. Has no effect on SD 1.5 or SD 2.0/2.1."),
        "CLIP_stop_at_last_layers": _slider(1, "Clip skip", 1, 12, 1, infotext="Clip skip")
            .link("wiki", "https://github.com/AUTOMATIC1111/stable-diffusion-webui/wiki/Features#clip-skip")
            .info("ignore last layers of CLIP network; 1 ignores none, 2 ignores one layer"),
        "upcast_attn": OptionInfo(False, "Upcast cross attention layer to float32"),
        "randn_source": _radio("GPU", "Random number generator source.", ["GPU", "CPU", "NV"], infotext="RNG")
            .info("changes seeds drastically; use CPU to produce the same picture across different videocard vendors; use NV to produce same picture as on NVidia videocards"),
        "tiling": OptionInfo(False, "Tiling", infotext="Tiling").info("produce a tileable picture"),
        "hires_fix_refiner_pass": _radio("second pass", "Hires fix: which pass to enable refiner for", ["first pass", "second pass", "both passes"], infotext="Hires refiner"),
    })


def _sdxl() -> dict[str, OptionInfo]:
    return options_section(("sdxl", "Stable Diffusion XL", "sd"), {
        "sdxl_crop_top": OptionInfo(0, "crop top coordinate"),
        "sdxl_crop_left": OptionInfo(0, "crop left coordinate"),
        "sdxl_refiner_low_aesthetic_score": _number(2.5, "SDXL low aesthetic score").info("used for refiner model negative prompt"),
        "sdxl_refiner_high_aesthetic_score": _number(6.0, "SDXL high aesthetic score").info("used for refiner model prompt"),
    })


def _sd3() -> dict[str, OptionInfo]:
    return options_section(("sd3", "Stable Diffusion 3", "sd"), {
        "sd3_enable_t5": OptionInfo(False, "Enable T5")
            .info("load T5 text encoder; increases VRAM use by a lot, potentially improving quality of generation; requires model reload to apply"),
    })


def _vae() -> dict[str, OptionInfo]:
    return options_section(("vae", "VAE", "sd"), {
        "sd_vae_explanation": OptionHTML("""
<abbr title='Variational autoencoder'>VAE</abbr> is a neural network that transforms a standard <abbr title='red/green/blue'>RGB</abbr>
image into latent space representation and back. Latent space representation is what stable diffusion is working on during sampling
(i.e. when the progress bar is between empty and full). For txt2img, VAE is used to create a resulting image after the sampling is finished.
For img2img, VAE is used to process user's input image before the sampling, and to create an image after sampling.
"""),
        "sd_vae_checkpoint_cache": _slider(0, "VAE Checkpoints to cache in RAM", 0, 10, 1),
        "sd_vae": OptionInfo("Automatic", "SD VAE", "Dropdown", _choices(_vae_choices), refresh=_call("modules.sd_vae", "refresh_vae_list"), infotext="VAE")
            .info("choose VAE model: Automatic = use one with same filename as checkpoint; None = use VAE from checkpoint"),
        "sd_vae_overrides_per_model_preferences": OptionInfo(True, "Selected VAE overrides per-model preferences")
            .info("you can set per-model VAE either by editing user metadata for checkpoints, or by making the VAE have same name as checkpoint"),
        "auto_vae_precision_bfloat16": OptionInfo(False, "Automatically convert VAE to bfloat16")
            .info("triggers when a tensor with NaNs is produced in VAE; disabling the option in this case will result in a black square image; if enabled, overrides the option below"),
        "auto_vae_precision": OptionInfo(True, "Automatically revert VAE to 32-bit floats")
            .info("triggers when a tensor with NaNs is produced in VAE; disabling the option in this case will result in a black square image"),
        "sd_vae_encode_method": _radio("Full", "VAE type for encode", ["Full", "TAESD"], infotext="VAE Encoder")
            .info("method to encode image to latent (use in img2img, hires-fix or inpaint mask)"),
        "sd_vae_decode_method": _radio("Full", "VAE type for decode", ["Full", "TAESD"], infotext="VAE Decoder").info("method to decode latent to image"),
    })


def _img2img() -> dict[str, OptionInfo]:
    return options_section(("img2img", "img2img", "sd"), {
        "inpainting_mask_weight": _slider(1.0, "Inpainting conditioning mask strength", 0.0, 1.0, 0.01, infotext="Conditional mask weight"),
        "initial_noise_multiplier": _slider(1.0, "Noise multiplier for img2img", 0.0, 1.5, 0.001, infotext="Noise multiplier"),
        "img2img_extra_noise": _slider(0.0, "Extra noise multiplier for img2img and hires fix", 0.0, 1.0, 0.01, infotext="Extra noise")
            .info("0 = disabled (default); should be lower than denoising strength"),
        "img2img_color_correction": OptionInfo(False, "Apply color correction to img2img results to match original colors."),
        "img2img_fix_steps": OptionInfo(False, "With img2img, do exactly the amount of steps the slider specifies.")
            .info("normally you'd do less with less denoising"),
        "img2img_background_color": _color("#ffffff", "With img2img, fill transparent parts of the input image with this color."),
        "img2img_editor_height": _slider(720, "Height of the image editor", 80, 1600, 1).info("in pixels").needs_reload_ui(),
        "img2img_sketch_default_brush_color": _color("#ffffff", "Sketch initial brush color").info("default brush color of img2img sketch").needs_reload_ui(),
        "img2img_inpaint_mask_brush_color": _color("#ffffff", "Inpaint mask brush color").info("brush color of inpaint mask").needs_reload_ui(),
        "img2img_inpaint_sketch_default_brush_color": _color("#ffffff", "Inpaint sketch initial brush color")
            .info("default brush color of img2img inpaint sketch")
            .needs_reload_ui(),
        "return_mask": OptionInfo(False, "For inpainting, include the greyscale mask in results for web"),
        "return_mask_composite": OptionInfo(False, "For inpainting, include masked composite in results for web"),
        "img2img_batch_show_results_limit": _slider(32, "Show the first N batch img2img results in UI", -1, 1000, 1)
            .info("0: disable, -1: show all images. Too many images can cause lag"),
        "overlay_inpaint": OptionInfo(True, "Overlay original for inpaint")
            .info("when inpainting, overlay the original image over the areas that weren't inpainted."),
    })


def _optimizations() -> dict[str, OptionInfo]:
    return options_section(("optimizations", "Optimizations", "sd"), {
        "cross_attention_optimization": OptionInfo("Automatic", "Cross attention optimization", "Dropdown", _choices(_cross_attention_choices)),
        "s_min_uncond": _slider(0.0, "Negative Guidance minimum sigma", 0.0, 15.0, 0.01, infotext="NGMS")
            .link("PR", "https://github.com/AUTOMATIC1111/stable-diffusion-webui/pull/9177")
            .info("skip negative prompt for some steps when the image is almost ready; 0=disable, higher=faster"),
        "s_min_uncond_all": OptionInfo(False, "Negative Guidance minimum sigma all steps", infotext="NGMS all steps")
            .info("By default, NGMS above skips every other step; this makes it skip all steps"),
        "token_merging_ratio": _slider(0.0, "Token merging ratio", 0.0, 0.9, 0.1, infotext="Token merging ratio")
            .link("PR", "https://github.com/AUTOMATIC1111/stable-diffusion-webui/pull/9256")
            .info("0=disable, higher=faster"),
        "token_merging_ratio_img2img": _slider(0.0, "Token merging ratio for img2img", 0.0, 0.9, 0.1).info("only applies if non-zero and overrides above"),
        "token_merging_ratio_hr": _slider(0.0, "Token merging ratio for high-res pass", 0.0, 0.9, 0.1, infotext="Token merging ratio hr")
            .info("only applies if non-zero and overrides above"),
        "pad_cond_uncond": OptionInfo(False, "Pad prompt/negative prompt", infotext="Pad conds")
            .info("improves performance when prompt and negative prompt have different lengths; changes seeds"),
        "pad_cond_uncond_v0": OptionInfo(False, "Pad prompt/negative prompt (v0)", infotext="Pad conds v0")
            .info("alternative implementation for the above; used prior to 1.6.0 for DDIM sampler; overrides the above if set; WARNING: truncates negative prompt if it's too long; changes seeds"),
        "persistent_cond_cache": OptionInfo(True, "Persistent cond cache")
            .info("do not recalculate conds from prompts if prompts have not changed since previous calculation"),
        "batch_cond_uncond": OptionInfo(True, "Batch cond/uncond")
            .info("do both conditional and unconditional denoising in one batch; uses a bit more VRAM during sampling, but improves speed; previously this was controlled by --always-batch-cond-uncond commandline argument"),
        "fp8_storage": _radio("Disable", "FP8 weight", ["Disable", "Enable for SDXL", "Enable"])
            .info("Use FP8 to store Linear/Conv layers' weight. Require pytorch>=2.1.0."),
        "cache_fp16_weight": OptionInfo(False, "Cache FP16 weight for LoRA")
            .info("Cache fp16 weight when enabling FP8, will increase the quality of LoRA. Use more system ram."),
    })


def _compatibility() -> dict[str, OptionInfo]:
    return options_section(("compatibility", "Compatibility", "sd"), {
        "auto_backcompat": OptionInfo(True, "Automatic backward compatibility")
            .info("automatically enable options for backwards compatibility when importing generation parameters from infotext that has program version."),
        "use_old_emphasis_implementation": OptionInfo(False, "Use old emphasis implementation. Can be useful to reproduce old seeds."),
        "use_old_karras_scheduler_sigmas": OptionInfo(False, "Use old karras scheduler sigmas (0.1 to 10)."),
        "no_dpmpp_sde_batch_determinism": OptionInfo(False, "Do not make DPM++ SDE deterministic across different batch sizes."),
        "use_old_hires_fix_width_height": OptionInfo(False, "For hires fix, use width/height sliders to set final resolution rather than first pass (disables Upscale by, Resize width/height to)."),
        "hires_fix_use_firstpass_conds": OptionInfo(False, "For hires fix, calculate conds of second pass using extra networks of first pass."),
        "use_old_scheduling": OptionInfo(False, "Use old prompt editing timelines.", infotext="Old prompt editing timelines")
            .info("For [red:green:N]; old: If N < 1, it's a fraction of steps (and hires fix uses range from 0 to 1), if N >= 1, it's an absolute number of steps; new: If N has a decimal point in it, it's a fraction of steps (and hires fix uses range from 1 to 2), othewrwise it's an absolute number of steps"),
        "use_downcasted_alpha_bar": OptionInfo(False, "Downcast model alphas_cumprod to fp16 before sampling. For reproducing old seeds.", infotext="Downcast alphas_cumprod"),
        "refiner_switch_by_sample_steps": OptionInfo(False, "Switch to refiner by sampling steps instead of model timesteps. Old behavior for refiner.", infotext="Refiner switch by sampling steps"),
    })


# ---------------------------------------------------------------------------------------------------------------------
# Uncategorized "Interrogate", then "Extra Networks" (category "sd")

def _interrogate() -> dict[str, OptionInfo]:
    return options_section(("interrogate", "Interrogate"), {
        "interrogate_keep_models_in_memory": OptionInfo(False, "Keep models in VRAM"),
        "interrogate_return_ranks": OptionInfo(False, "Include ranks of model tags matches in results.").info("booru only"),
        "interrogate_clip_num_beams": _slider(1, "BLIP: num_beams", 1, 16, 1),
        "interrogate_clip_min_length": _slider(24, "BLIP: minimum description length", 1, 128, 1),
        "interrogate_clip_max_length": _slider(48, "BLIP: maximum description length", 1, 256, 1),
        "interrogate_clip_dict_limit": OptionInfo(1500, "CLIP: maximum number of lines in text file").info("0 = No limit"),
        "interrogate_clip_skip_categories": OptionInfo([], "CLIP: skip inquire categories", "CheckboxGroup", _choices(_interrogate_categories), refresh=_interrogate_categories),
        "interrogate_deepbooru_score_threshold": _slider(0.5, "deepbooru: score threshold", 0, 1, 0.01),
        "deepbooru_sort_alpha": OptionInfo(True, "deepbooru: sort tags alphabetically").info("if not: sort by score"),
        "deepbooru_use_spaces": OptionInfo(True, "deepbooru: use spaces in tags").info("if not: use underscores"),
        "deepbooru_escape": OptionInfo(True, "deepbooru: escape (\\) brackets").info("so they are used as literal brackets and not for emphasis"),
        "deepbooru_filter_tags": OptionInfo("", "deepbooru: filter out those tags").info("separate by comma"),
    })


def _extra_networks() -> dict[str, OptionInfo]:
    return options_section(("extra_networks", "Extra Networks", "sd"), {
        "extra_networks_show_hidden_directories": OptionInfo(True, "Show hidden directories").info('directory is hidden if its name starts with ".".'),
        "extra_networks_dir_button_function": OptionInfo(False, "Add a '/' to the beginning of directory buttons")
            .info("Buttons will display the contents of the selected directory without acting as a search filter."),
        "extra_networks_hidden_models": _radio("When searched", "Show cards for models in hidden directories", ["Always", "When searched", "Never"])
            .info('"When searched" option will only show the item when the search string has 4 characters or more'),
        "extra_networks_default_multiplier": _slider(1.0, "Default multiplier for extra networks", 0.0, 2.0, 0.01),
        "extra_networks_card_width": OptionInfo(0, "Card width for Extra Networks").info("in pixels"),
        "extra_networks_card_height": OptionInfo(0, "Card height for Extra Networks").info("in pixels"),
        "extra_networks_card_text_scale": _slider(1.0, "Card text scale", 0.0, 2.0, 0.01).info("1 = original size"),
        "extra_networks_card_show_desc": OptionInfo(True, "Show description on card"),
        "extra_networks_card_description_is_html": OptionInfo(False, "Treat card description as HTML"),
        "extra_networks_card_order_field": OptionInfo("Path", "Default order field for Extra Networks cards", "Dropdown", {"choices": ["Path", "Name", "Date Created", "Date Modified"]}).needs_reload_ui(),
        "extra_networks_card_order": OptionInfo("Ascending", "Default order for Extra Networks cards", "Dropdown", {"choices": ["Ascending", "Descending"]}).needs_reload_ui(),
        "extra_networks_tree_view_style": _radio("Dirs", "Extra Networks directory view style", ["Tree", "Dirs"]).needs_reload_ui(),
        "extra_networks_tree_view_default_enabled": OptionInfo(True, "Show the Extra Networks directory view by default").needs_reload_ui(),
        "extra_networks_tree_view_default_width": _number(180, "Default width for the Extra Networks directory tree view").needs_reload_ui(),
        "extra_networks_add_text_separator": OptionInfo(" ", "Extra networks separator")
            .info("extra text to add before <...> when adding extra network to prompt"),
        "ui_extra_networks_tab_reorder": OptionInfo("", "Extra networks tab order").needs_reload_ui(),
        "textual_inversion_print_at_load": OptionInfo(False, "Print a list of Textual Inversion embeddings when loading model"),
        "textual_inversion_add_hashes_to_infotext": OptionInfo(True, "Add Textual Inversion hashes to infotext"),
        "sd_hypernetwork": OptionInfo("None", "Add hypernetwork to prompt", "Dropdown", _choices(_hypernetwork_choices), refresh=_call("modules.shared_items", "reload_hypernetworks")),
    })


# ---------------------------------------------------------------------------------------------------------------------
# Category "User Interface"

def _prompt_editing() -> dict[str, OptionInfo]:
    whitespace = ["Tab", "Carriage Return", "Line Feed"]
    return options_section(("ui_prompt_editing", "Prompt editing", "ui"), {
        "keyedit_precision_attention": _slider(0.1, "Precision for (attention:1.1) when editing the prompt with Ctrl+up/down", 0.01, 0.2, 0.001),
        "keyedit_precision_extra": _slider(0.05, "Precision for <extra networks:0.9> when editing the prompt with Ctrl+up/down", 0.01, 0.2, 0.001),
        "keyedit_delimiters": OptionInfo(r".,\/!?%^*;:{}=`~() ", "Word delimiters when editing the prompt with Ctrl+up/down"),
        "keyedit_delimiters_whitespace": OptionInfo(list(whitespace), "Ctrl+up/down whitespace delimiters", "CheckboxGroup", {"choices": whitespace}),
        "keyedit_move": OptionInfo(True, "Alt+left/right moves prompt elements"),
        "disable_token_counters": OptionInfo(False, "Disable prompt token counters"),
        "include_styles_into_token_counters": OptionInfo(True, "Count tokens of enabled styles")
            .info("When calculating how many tokens the prompt has, also consider tokens added by enabled styles."),
    })


def _gallery() -> dict[str, OptionInfo]:
    return options_section(("ui_gallery", "Gallery", "ui"), {
        "return_grid": OptionInfo(True, "Show grid in gallery"),
        "do_not_show_images": OptionInfo(False, "Do not show any images in gallery"),
        "js_modal_lightbox": OptionInfo(True, "Full page image viewer: enable"),
        "js_modal_lightbox_initially_zoomed": OptionInfo(True, "Full page image viewer: show images zoomed in by default"),
        "js_modal_lightbox_gamepad": OptionInfo(False, "Full page image viewer: navigate with gamepad"),
        "js_modal_lightbox_gamepad_repeat": OptionInfo(250, "Full page image viewer: gamepad repeat period").info("in milliseconds"),
        "sd_webui_modal_lightbox_icon_opacity": _slider(1, "Full page image viewer: control icon unfocused opacity", 0.0, 1, 0.01)
            .info("for mouse only")
            .needs_reload_ui(),
        "sd_webui_modal_lightbox_toolbar_opacity": _slider(0.9, "Full page image viewer: tool bar opacity", 0.0, 1, 0.01)
            .info("for mouse only")
            .needs_reload_ui(),
        "gallery_height": OptionInfo("", "Gallery height", "Textbox").info("can be any valid CSS value, for example 768px or 20em").needs_reload_ui(),
        "open_dir_button_choice": _radio("Subdirectory", "What directory the [📂] button opens", ["Output Root", "Subdirectory", "Subdirectory (even temp dir)"]),
    })


def _ui_alternatives() -> dict[str, OptionInfo]:
    return options_section(("ui_alternatives", "UI alternatives", "ui"), {
        "compact_prompt_box": OptionInfo(False, "Compact prompt layout")
            .info("puts prompt and negative prompt inside the Generate tab, leaving more vertical space for the image on the right")
            .needs_reload_ui(),
        "samplers_in_dropdown": OptionInfo(True, "Use dropdown for sampler selection instead of radio group").needs_reload_ui(),
        "dimensions_and_batch_together": OptionInfo(True, "Show Width/Height and Batch sliders in same row").needs_reload_ui(),
        "sd_checkpoint_dropdown_use_short": OptionInfo(False, "Checkpoint dropdown: use filenames without paths")
            .info("models in subdirectories like photo/sd15.ckpt will be listed as just sd15.ckpt"),
        "hires_fix_show_sampler": OptionInfo(False, "Hires fix: show hires checkpoint and sampler selection").needs_reload_ui(),
        "hires_fix_show_prompts": OptionInfo(False, "Hires fix: show hires prompt and negative prompt").needs_reload_ui(),
        "txt2img_settings_accordion": OptionInfo(False, "Settings in txt2img hidden under Accordion").needs_reload_ui(),
        "img2img_settings_accordion": OptionInfo(False, "Settings in img2img hidden under Accordion").needs_reload_ui(),
        "interrupt_after_current": OptionInfo(True, "Don't Interrupt in the middle")
            .info("when using Interrupt button, if generating more than one image, stop after the generation of an image has finished, instead of immediately"),
    })


def _user_interface() -> dict[str, OptionInfo]:
    return options_section(("ui", "User interface", "ui"), {
        "localization": OptionInfo("None", "Localization", "Dropdown", _choices(_localization_choices), refresh=_call("modules.localization", "list_localizations")).needs_reload_ui(),
        "quicksettings_list": OptionInfo(["sd_model_checkpoint"], "Quicksettings list", "Dropdown", _multi(_setting_keys))
            .js("info", "settingsHintsShowQuicksettings")
            .info("setting entries that appear at the top of page rather than in settings tab")
            .needs_reload_ui(),
        "ui_tab_order": OptionInfo([], "UI tab order", "Dropdown", _multi(_tab_names)).needs_reload_ui(),
        "hidden_tabs": OptionInfo([], "Hidden UI tabs", "Dropdown", _multi(_tab_names)).needs_reload_ui(),
        "ui_reorder_list": OptionInfo([], "UI item order for txt2img/img2img tabs", "Dropdown", _multi(_ui_reorder_choices))
            .info("selected items appear first")
            .needs_reload_ui(),
        "gradio_theme": OptionInfo("Default", "Gradio theme", "Dropdown", {"choices": ["Default", *GRADIO_HF_HUB_THEMES], "allow_custom_value": True})
            .info("you can also manually enter any of themes from the <a href='https://huggingface.co/spaces/gradio/theme-gallery'>gallery</a>.")
            .needs_reload_ui(),
        "gradio_themes_cache": OptionInfo(True, "Cache gradio themes locally").info("disable to update the selected Gradio theme"),
        "show_progress_in_title": OptionInfo(True, "Show generation progress in window title."),
        "send_seed": OptionInfo(True, "Send seed when sending prompt or image to other interface"),
        "send_size": OptionInfo(True, "Send size when sending prompt or image to another interface"),
        "enable_reloading_ui_scripts": OptionInfo(False, "Reload UI scripts when using Reload UI option")
            .info("useful for developing: if you make changes to UI scripts code, it is applied when the UI is reloded."),
    })


_INFOTEXT_STYLES_HELP = """<ul style='margin-left: 1.5em'>
<li>Ignore: keep prompt and styles dropdown as it is.</li>
<li>Apply: remove style text from prompt, always replace styles dropdown value with found styles (even if none are found).</li>
<li>Discard: remove style text from prompt, keep styles dropdown as it is.</li>
<li>Apply if any: remove style text from prompt; if any styles are found in prompt, put them into styles dropdown, otherwise keep it as it is.</li>
</ul>"""


def _infotext() -> dict[str, OptionInfo]:
    return options_section(("infotext", "Infotext", "ui"), {
        "infotext_explanation": OptionHTML("""
Infotext is what this software calls the text that contains generation parameters and can be used to generate the same picture again.
It is displayed in UI below the image. To use infotext, paste it into the prompt and click the ↙️ paste button.
"""),
        "enable_pnginfo": OptionInfo(True, "Write infotext to metadata of the generated image"),
        "save_txt": OptionInfo(False, "Create a text file with infotext next to every generated image"),
        "add_model_name_to_info": OptionInfo(True, "Add model name to infotext"),
        "add_model_hash_to_info": OptionInfo(True, "Add model hash to infotext"),
        "add_vae_name_to_info": OptionInfo(True, "Add VAE name to infotext"),
        "add_vae_hash_to_info": OptionInfo(True, "Add VAE hash to infotext"),
        "add_user_name_to_info": OptionInfo(False, "Add user name to infotext when authenticated"),
        "add_version_to_infotext": OptionInfo(True, "Add program version to infotext"),
        "disable_weights_auto_swap": OptionInfo(True, "Disregard checkpoint information from pasted infotext")
            .info("when reading generation parameters from text into UI"),
        "infotext_skip_pasting": OptionInfo([], "Disregard fields from pasted infotext", "Dropdown", _multi(_infotext_names)),
        "infotext_styles": _radio("Apply if any", "Infer styles from prompts of pasted infotext", ["Ignore", "Apply", "Discard", "Apply if any"])
            .info("when reading generation parameters from text into UI)")
            .html(_INFOTEXT_STYLES_HELP),
    })


def _live_previews() -> dict[str, OptionInfo]:
    # A1111 files this page under the id "ui", the same id as "User interface"
    return options_section(("ui", "Live previews", "ui"), {
        "show_progressbar": OptionInfo(True, "Show progressbar"),
        "live_previews_enable": OptionInfo(True, "Show live previews of the created image"),
        "live_previews_image_format": _radio("png", "Live preview file format", ["jpeg", "png", "webp"]),
        "show_progress_grid": OptionInfo(True, "Show previews of all images generated in a batch as a grid"),
        "show_progress_every_n_steps": _slider(10, "Live preview display period", -1, 32, 1)
            .info("in sampling steps - show new live preview image every N sampling steps; -1 = only show after completion of batch"),
        "show_progress_type": _radio("Approx NN", "Live preview method", ["Full", "Approx NN", "Approx cheap", "TAESD"])
            .info("Full = slow but pretty; Approx NN and TAESD = fast but low quality; Approx cheap = super fast but terrible otherwise"),
        "live_preview_allow_lowvram_full": OptionInfo(False, "Allow Full live preview method with lowvram/medvram")
            .info("If not, Approx NN will be used instead; Full live preview method is very detrimental to speed if lowvram/medvram optimizations are enabled"),
        "live_preview_content": _radio("Prompt", "Live preview subject", ["Combined", "Prompt", "Negative prompt"]),
        "live_preview_refresh_period": OptionInfo(1000, "Progressbar and preview update period").info("in milliseconds"),
        "live_preview_fast_interrupt": OptionInfo(False, "Return image with chosen live preview method on interrupt").info("makes interrupts faster"),
        "js_live_preview_in_modal_lightbox": OptionInfo(False, "Show Live preview in full page image viewer"),
        "prevent_screen_sleep_during_generation": OptionInfo(True, "Prevent screen sleep during generation"),
    })


# ---------------------------------------------------------------------------------------------------------------------
# "Sampler parameters" (category "sd"), "Postprocessing", hidden options

def _sampler_params() -> dict[str, OptionInfo]:
    euler_heun_dpm2 = "only applies to Euler, Heun, and DPM2"
    return options_section(("sampler-params", "Sampler parameters", "sd"), {
        "hide_samplers": OptionInfo([], "Hide samplers in user interface", "CheckboxGroup", _choices(_sampler_names)).needs_reload_ui(),
        "eta_ddim": _slider(0.0, "Eta for DDIM", 0.0, 1.0, 0.01, infotext="Eta DDIM").info("noise multiplier; higher = more unpredictable results"),
        "eta_ancestral": _slider(1.0, "Eta for k-diffusion samplers", 0.0, 1.0, 0.01, infotext="Eta")
            .info("noise multiplier; currently only applies to ancestral samplers (i.e. Euler a) and SDE samplers"),
        "ddim_discretize": _radio("uniform", "img2img DDIM discretize", ["uniform", "quad"]),
        "s_churn": _slider(0.0, "sigma churn", 0.0, 100.0, 0.01, infotext="Sigma churn").info(f"amount of stochasticity; {euler_heun_dpm2}"),
        "s_tmin": _slider(0.0, "sigma tmin", 0.0, 10.0, 0.01, infotext="Sigma tmin")
            .info(f"enable stochasticity; start value of the sigma range; {euler_heun_dpm2}"),
        "s_tmax": _slider(0.0, "sigma tmax", 0.0, 999.0, 0.01, infotext="Sigma tmax").info(f"0 = inf; end value of the sigma range; {euler_heun_dpm2}"),
        "s_noise": _slider(1.0, "sigma noise", 0.0, 1.1, 0.001, infotext="Sigma noise")
            .info("amount of additional noise to counteract loss of detail during sampling"),
        "sigma_min": _number(0.0, "sigma min", infotext="Schedule min sigma")
            .info("0 = default (~0.03); minimum noise strength for k-diffusion noise scheduler"),
        "sigma_max": _number(0.0, "sigma max", infotext="Schedule max sigma")
            .info("0 = default (~14.6); maximum noise strength for k-diffusion noise scheduler"),
        "rho": _number(0.0, "rho", infotext="Schedule rho")
            .info("0 = default (7 for karras, 1 for polyexponential); higher values result in a steeper noise schedule (decreases faster)"),
        "eta_noise_seed_delta": _integer(0, "Eta noise seed delta", infotext="ENSD")
            .info("ENSD; does not improve anything, just produces different results for ancestral samplers - only useful for reproducing images"),
        "always_discard_next_to_last_sigma": OptionInfo(False, "Always discard next-to-last sigma", infotext="Discard penultimate sigma")
            .link("PR", "https://github.com/AUTOMATIC1111/stable-diffusion-webui/pull/6044"),
        "sgm_noise_multiplier": OptionInfo(False, "SGM noise multiplier", infotext="SGM noise multiplier")
            .link("PR", "https://github.com/AUTOMATIC1111/stable-diffusion-webui/pull/12818")
            .info("Match initial noise to official SDXL implementation - only useful for reproducing images"),
        "uni_pc_variant": _radio("bh1", "UniPC variant", ["bh1", "bh2", "vary_coeff"], infotext="UniPC variant"),
        "uni_pc_skip_type": _radio("time_uniform", "UniPC skip type", ["time_uniform", "time_quadratic", "logSNR"], infotext="UniPC skip type"),
        "uni_pc_order": _slider(3, "UniPC order", 1, 50, 1, infotext="UniPC order").info("must be < sampling steps"),
        "uni_pc_lower_order_final": OptionInfo(True, "UniPC lower order final", infotext="UniPC lower order final"),
        "sd_noise_schedule": _radio("Default", "Noise schedule for sampling", ["Default", "Zero Terminal SNR"], infotext="Noise Schedule")
            .info("for use with zero terminal SNR trained models"),
        "skip_early_cond": _slider(0.0, "Ignore negative prompt during early sampling", 0.0, 1.0, 0.01, infotext="Skip Early CFG")
            .info("disables CFG on a proportion of steps at the beginning of generation; 0=skip none; 1=skip all; can both improve sample diversity/quality and speed up sampling"),
        "beta_dist_alpha": _slider(0.6, "Beta scheduler - alpha", 0.01, 1.0, 0.01, infotext="Beta scheduler alpha")
            .info("Default = 0.6; the alpha parameter of the beta distribution used in Beta sampling"),
        "beta_dist_beta": _slider(0.6, "Beta scheduler - beta", 0.01, 1.0, 0.01, infotext="Beta scheduler beta")
            .info("Default = 0.6; the beta parameter of the beta distribution used in Beta sampling"),
    })


def _postprocessing() -> dict[str, OptionInfo]:
    return options_section(("postprocessing", "Postprocessing", "postprocessing"), {
        "postprocessing_enable_in_main_ui": OptionInfo([], "Enable postprocessing operations in txt2img and img2img tabs", "Dropdown", _multi(_postprocessing_names)),
        "postprocessing_disable_in_extras": OptionInfo([], "Disable postprocessing operations in extras tab", "Dropdown", _multi(_postprocessing_names)),
        "postprocessing_operation_order": OptionInfo([], "Postprocessing operation order", "Dropdown", _multi(_postprocessing_names)),
        "upscaling_max_images_in_cache": _slider(5, "Maximum number of images in upscaling cache", 0, 10, 1),
        "postprocessing_existing_caption_action": _radio("Ignore", "Action for existing captions", ["Ignore", "Keep", "Prepend", "Append"])
            .info("when generating captions using postprocessing; Ignore = use generated; Keep = use original; Prepend/Append = combine both"),
    })


def _hidden() -> dict[str, OptionInfo]:
    # A section id of None keeps these out of the Settings tab (A1111's convention)
    return options_section((None, "Hidden options"), {
        "disabled_extensions": OptionInfo([], "Disable these extensions"),
        "disable_all_extensions": _radio("none", "Disable all extensions (preserves the list of disabled extensions)", ["none", "extra", "all"]),
        "restore_config_state_file": OptionInfo("", "Config state file to restore from, under 'config-states/' folder"),
        "sd_checkpoint_hash": OptionInfo("", "SHA256 hash of the current checkpoint"),
    })


# ---------------------------------------------------------------------------------------------------------------------
# Settings of the built-in extensions (and of the prompt-comments processing script).
# A1111 declares most of them with a 2-tuple section; the category here is the one
# A1111's Options.reorder() gives them from the other items of the same section.

def _lora() -> dict[str, OptionInfo]:
    options = options_section(("extra_networks", "Extra Networks", "sd"), {
        "sd_lora": OptionInfo("None", "Add network to prompt", "Dropdown", _choices(_lora_choices), refresh=_refresh_loras),
        "lora_preferred_name": _radio("Alias from file", "When adding to prompt, refer to Lora by", ["Alias from file", "Filename"]),
        "lora_add_hashes_to_infotext": OptionInfo(True, "Add Lora hashes to infotext"),
        "lora_bundled_ti_to_infotext": OptionInfo(True, "Add Lora name as TI hashes for bundled Textual Inversion")
            .info('"Add Textual Inversion hashes to infotext" needs to be enabled'),
        "lora_show_all": OptionInfo(False, "Always show all networks on the Lora page")
            .info("otherwise, those detected as for incompatible version of Stable Diffusion will be hidden"),
        "lora_hide_unknown_for_versions": OptionInfo([], "Hide networks of unknown versions for model versions", "CheckboxGroup", {"choices": ["SD1", "SD2", "SDXL"]}),
        "lora_in_memory_limit": _integer(0, "Number of Lora networks to keep cached in memory"),
        "lora_not_found_warning_console": OptionInfo(False, "Lora not found warning in console"),
        "lora_not_found_gradio_warning": OptionInfo(False, "Lora not found warning popup in webui"),
    })
    options.update(options_section(("compatibility", "Compatibility", "sd"), {
        "lora_functional": OptionInfo(False, "Lora/Networks: use old method that takes longer when you have multiple Loras active and produces same results as kohya-ss/sd-webui-additional-networks extension"),
    }))
    return options


def _canvas_hotkeys() -> dict[str, OptionInfo]:
    modifiers = ["Shift", "Ctrl", "Alt"]
    modifier_note = "If you choose 'Shift' you cannot scroll horizontally, 'Alt' can cause a little trouble in firefox"
    functions = ["Zoom", "Adjust brush size", "Hotkey enlarge brush", "Hotkey shrink brush", "Moving canvas", "Fullscreen", "Reset Zoom", "Overlap"]
    return options_section(("canvas_hotkey", "Canvas Hotkeys"), {
        "canvas_hotkey_zoom": _radio("Alt", "Zoom canvas", modifiers).info(modifier_note),
        "canvas_hotkey_adjust": _radio("Ctrl", "Adjust brush size", modifiers).info(modifier_note),
        "canvas_hotkey_shrink_brush": OptionInfo("Q", "Shrink the brush size"),
        "canvas_hotkey_grow_brush": OptionInfo("W", "Enlarge the brush size"),
        "canvas_hotkey_move": OptionInfo("F", "Moving the canvas")
            .info("To work correctly in firefox, turn off 'Automatically search the page text when typing' in the browser settings"),
        "canvas_hotkey_fullscreen": OptionInfo("S", "Fullscreen Mode, maximizes the picture so that it fits into the screen and stretches it to its full width "),
        "canvas_hotkey_reset": OptionInfo("R", "Reset zoom and canvas position"),
        "canvas_hotkey_overlap": OptionInfo("O", "Toggle overlap").info("Technical button, needed for testing"),
        "canvas_show_tooltip": OptionInfo(True, "Enable tooltip on the canvas"),
        "canvas_auto_expand": OptionInfo(True, "Automatically expands an image that does not fit completely in the canvas area, similar to manually pressing the S and R buttons"),
        "canvas_blur_prompt": OptionInfo(False, "Take the focus off the prompt when working with a canvas"),
        "canvas_disabled_functions": OptionInfo(["Overlap"], "Disable function that you don't use", "CheckboxGroup", {"choices": functions}),
    })


def _settings_in_ui() -> dict[str, OptionInfo]:
    return options_section(("settings_in_ui", "Settings in UI", "ui"), {
        "settings_in_ui": OptionHTML("""
This page allows you to add some settings to the main interface of txt2img and img2img tabs.
"""),
        "extra_options_txt2img": OptionInfo([], "Settings for txt2img", "Dropdown", _multi(_setting_keys))
            .js("info", "settingsHintsShowQuicksettings")
            .info("setting entries that also appear in txt2img interfaces")
            .needs_reload_ui(),
        "extra_options_img2img": OptionInfo([], "Settings for img2img", "Dropdown", _multi(_setting_keys))
            .js("info", "settingsHintsShowQuicksettings")
            .info("setting entries that also appear in img2img interfaces")
            .needs_reload_ui(),
        "extra_options_cols": _slider(1, "Number of columns for added settings", 1, 20, 1)
            .info("displayed amount will depend on the actual browser window width")
            .needs_reload_ui(),
        "extra_options_accordion": OptionInfo(False, "Place added settings into an accordion").needs_reload_ui(),
    })


def _prompt_comments() -> dict[str, OptionInfo]:
    return options_section(("sd", "Stable Diffusion", "sd"), {
        "enable_prompt_comments": OptionInfo(True, "Enable comments")
            .info("Use # anywhere in the prompt to hide the text between # and the end of the line from the generation."),
    })


def _extension_upscalers() -> dict[str, OptionInfo]:
    # Added by LDSR, ScuNET and SwinIR when the UI settings are built (not in a --nowebui options answer)
    return options_section(("upscaling", "Upscaling", "postprocessing"), {
        "ldsr_steps": _slider(100, "LDSR processing steps. Lower = faster", 1, 200, 1),
        "ldsr_cached": OptionInfo(False, "Cache LDSR model in memory", "Checkbox", {"interactive": True}),
        "SCUNET_tile": _slider(256, "Tile size for SCUNET upscalers.", 0, 512, 16).info("0 = no tiling"),
        "SCUNET_tile_overlap": _slider(8, "Tile overlap for SCUNET upscalers.", 0, 64, 1).info("Low values = visible seam"),
        "SWIN_tile": _slider(192, "Tile size for all SwinIR.", 16, 512, 16),
        "SWIN_tile_overlap": _slider(8, "Tile overlap, in pixels for SwinIR. Low values = visible seam.", 0, 48, 1),
        "SWIN_torch_compile": OptionInfo(False, "Use torch.compile to accelerate SwinIR.", "Checkbox", {"interactive": True}).info("Takes longer on first run"),
    })


def _hypertile() -> dict[str, OptionInfo]:
    return options_section(("hypertile", "Hypertile"), {
        "hypertile_explanation": OptionHTML("""
    <a href='https://github.com/tfernd/HyperTile'>Hypertile</a> optimizes the self-attention layer within U-Net and VAE models,
    resulting in a reduction in computation time ranging from 1 to 4 times. The larger the generated image is, the greater the
    benefit.
    """),
        "hypertile_enable_unet": OptionInfo(False, "Enable Hypertile U-Net", infotext="Hypertile U-Net")
            .info("enables hypertile for all modes, including hires fix second pass; noticeable change in details of the generated picture"),
        "hypertile_enable_unet_secondpass": OptionInfo(False, "Enable Hypertile U-Net for hires fix second pass", infotext="Hypertile U-Net second pass")
            .info("enables hypertile just for hires fix second pass - regardless of whether the above setting is enabled"),
        "hypertile_max_depth_unet": _slider(3, "Hypertile U-Net max depth", 0, 3, 1, infotext="Hypertile U-Net max depth")
            .info("larger = more neural network layers affected; minor effect on performance"),
        "hypertile_max_tile_unet": _slider(256, "Hypertile U-Net max tile size", 0, 512, 16, infotext="Hypertile U-Net max tile size")
            .info("larger = worse performance"),
        "hypertile_swap_size_unet": _slider(3, "Hypertile U-Net swap size", 0, 64, 1, infotext="Hypertile U-Net swap size"),
        "hypertile_enable_vae": OptionInfo(False, "Enable Hypertile VAE", infotext="Hypertile VAE").info("minimal change in the generated picture"),
        "hypertile_max_depth_vae": _slider(3, "Hypertile VAE max depth", 0, 3, 1, infotext="Hypertile VAE max depth"),
        "hypertile_max_tile_vae": _slider(128, "Hypertile VAE max tile size", 0, 512, 16, infotext="Hypertile VAE max tile size"),
        "hypertile_swap_size_vae": _slider(3, "Hypertile VAE swap size ", 0, 64, 1, infotext="Hypertile VAE swap size"),
    })


def _pages(console_prompts: bool) -> list[Callable[[], dict[str, OptionInfo]]]:
    return [
        _saving_images, _saving_paths, _saving_to_dirs, _upscaling, _face_restoration,
        lambda: _system(console_prompts), _profiler, _api, _training,
        _stable_diffusion, _sdxl, _sd3, _vae, _img2img, _optimizations, _compatibility,
        _interrogate, _extra_networks,
        _prompt_editing, _gallery, _ui_alternatives, _user_interface, _infotext, _live_previews,
        _sampler_params, _postprocessing, _hidden,
        _lora, _canvas_hotkeys, _settings_in_ui, _prompt_comments,
        _extension_upscalers, _hypertile,
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
