"""The Settings tab's lists that depend on the running app, and the checks of values against it.

Each function is called by the Settings tab (or a value check) when it asks, never at import or
when the catalogue is built. They read the installed services
(:func:`~modules.core.services.current_services`) or the lists registered in
:mod:`~modules.core.options.choice_providers` at start-up, and answer an empty list (or only the
placeholders ``Automatic``/``None``) when that part of the app is not there.
"""
from __future__ import annotations

from typing import Any

from modules.core import localization
from modules.core.options import choice_providers as providers
from modules.core.services import current_services

UI_REORDER_BUILTIN = [
    "prompt", "image", "inpaint", "sampler", "accordions", "checkboxes", "dimensions", "cfg", "denoising", "seed",
    "batch", "override_settings",
]
"""The txt2img/img2img blocks ``ui_reorder_list`` can move, before the scripts' own sections."""


def _live(name: str) -> Any:
    return getattr(current_services(), name, None)


def _names(items: Any) -> list[str]:
    """``x.name`` of each item, calling it when it is a method (face restorers)."""
    names = (getattr(x, "name", None) for x in items or [])
    return [n() if callable(n) else n for n in names if n is not None]


def dirs_visible() -> bool:
    """Whether folder settings are shown (not under ``--hide-ui-dir-config``)."""
    return not getattr(_live("cmd_opts"), "hide_ui_dir_config", False)


def checkpoint_titles() -> list[str]:
    registry = _live("checkpoints")
    return list(registry.titles()) if registry is not None else []


def unet_choices() -> list[str]:
    return ["Automatic", *providers.choices(providers.SD_UNETS), "None"]


def vae_choices() -> list[str]:
    registry = _live("vae_files")  # the VaeRegistry of the running app (a plain dict in some callers)
    files = getattr(registry, "vae_dict", registry)
    return ["Automatic", "None", *(files or {})]


def upscaler_names() -> list[str]:
    return _names(_live("sd_upscalers"))


def face_restorer_names() -> list[str]:
    restorers = _live("face_restorers")
    return _names(getattr(restorers, "restorers", restorers))


def realesrgan_model_names() -> list[str]:
    return providers.choices(providers.REALESRGAN_MODELS)


def dat_model_names() -> list[str]:
    return providers.choices(providers.DAT_MODELS)


def hypernetwork_choices() -> list[str]:
    return ["None", *providers.choices(providers.HYPERNETWORKS)]


def lora_choices() -> list[str]:
    return ["None", *providers.choices(providers.LORA_NETWORKS)]


def cross_attention_choices() -> list[str]:
    return ["Automatic", *providers.choices(providers.CROSS_ATTENTION_OPTIMIZATIONS), "None"]


def sampler_names() -> list[str]:
    return providers.choices(providers.SAMPLERS)


def interrogate_categories() -> list[str]:
    return providers.choices(providers.INTERROGATE_CATEGORIES)


def postprocessing_names() -> list[str]:
    return _names(getattr(_live("scripts_postproc"), "scripts", None))


def localization_choices() -> list[str]:
    return ["None", *localization.localizations]


def setting_keys() -> list[str]:
    opts = _live("opts")
    return list(opts.data_labels) if opts is not None else []


def tab_names() -> list[str]:
    return list(_live("tab_names") or [])


def ui_reorder_choices() -> list[str]:
    sections: dict[str, None] = {}
    for runner_name in ("scripts_txt2img", "scripts_img2img"):
        for script in getattr(_live(runner_name), "scripts", None) or []:
            section = getattr(script, "section", None)
            if isinstance(section, str) and section not in UI_REORDER_BUILTIN:
                sections[section] = None
    return [*UI_REORDER_BUILTIN, *sections, "scripts"]


def infotext_names() -> list[str]:
    """Every infotext field name: those of settings, then those of the UI's paste fields."""
    names: dict[str, None] = {}
    opts = _live("opts")
    for info in (opts.data_labels.values() if opts is not None else []):
        if info.infotext:
            names[info.infotext] = None
    for name in providers.choices(providers.INFOTEXT_PASTE_FIELDS):
        if isinstance(name, str):
            names[name] = None
    return list(names)


def check_checkpoint(value: Any) -> str | None:
    """``None`` when ``value`` names a listed checkpoint (or nothing is listed yet), else why not."""
    # A1111 accepts a checkpoint by title, file name, short name or hash: whatever its closest match finds
    registry = _live("checkpoints")
    if value is None:
        return None
    if not isinstance(value, str):
        return f"a checkpoint is named by a string (title, file name or hash), got {type(value).__name__}"
    if registry is None:
        return None
    return None if registry.get_closest_match(value) is not None else f"checkpoint {value!r} not found"


def check_vae(value: Any) -> str | None:
    """``None`` when ``value`` is ``Automatic``, ``None`` or a listed VAE file (or nothing is listed), else why not."""
    registry = _live("vae_files")
    if registry is None:
        return None
    files = getattr(registry, "vae_dict", registry) or {}
    if value in ("Automatic", "None") or value in files:
        return None
    return f"VAE {value!r} not found; choose Automatic, None or a file of models/VAE"
