"""The Settings tab's lists that come from the app's parts above ``core``, registered at start-up.

:func:`register_choice_providers` (called by the bootstrap) fills
:mod:`modules.core.options.choice_providers` with one function per list. Each reads the
installed services when it is called, so a Reload UI that installs new services needs no new
registration. Lists of parts this app does not have (extension UNets) are left unregistered: their
settings offer only ``Automatic``/``None`` or nothing.
The UI registers :data:`~modules.core.options.choice_providers.INFOTEXT_PASTE_FIELDS` when it
builds its paste buttons.
"""
from __future__ import annotations

import sys
from typing import Any

from modules.core import localization
from modules.core.options import choice_providers as providers
from modules.core.services import current_services
from modules.networks.hypernetworks.setup import live_registry
from modules.postprocess.model_upscalers import DAT_BUILTIN, REALESRGAN_BUILTIN
from modules.sampling.registry import all_samplers
from modules.runtime.interrogation import clip_interrogator
from modules.scripting.script_paths import list_scripts

LORA_EXTENSION_MODULE = "networks"
"""The module name the built-in Lora extension's ``networks.py`` is loaded under (A1111's)."""


def sampler_names() -> list[str]:
    return [sampler.name for sampler in all_samplers]


def cross_attention_optimizations() -> list[str]:
    # torch on first use: the API start path registers the providers without loading torch
    from modules.models.attention_choice import OPTIMIZATION_NAMES

    return [name for name in OPTIMIZATION_NAMES if name not in ("Automatic", "None")]


def hypernetwork_names() -> list[str]:
    registry = live_registry()
    registry.ensure_listed()
    return list(registry.available)


def _lora_extension() -> Any:
    """The built-in Lora extension's ``networks`` module, when the extension is loaded."""
    return sys.modules.get(LORA_EXTENSION_MODULE)


def lora_names() -> list[str]:
    return list(getattr(_lora_extension(), "available_networks", None) or {})


def refresh_loras() -> None:
    list_available = getattr(_lora_extension(), "list_available_networks", None)
    if callable(list_available):
        list_available()


def refresh_checkpoints() -> None:
    checkpoints = current_services().checkpoints
    if checkpoints is not None:
        checkpoints.refresh()


def refresh_vae_files() -> None:
    vae_files = current_services().vae_files
    if vae_files is not None:
        vae_files.refresh()


def refresh_localizations() -> None:
    """List the localization files of ``--localizations-dir`` and of the active extensions again."""
    dirname = getattr(current_services().cmd_opts, "localizations_dir", None)
    localization.list_localizations(dirname, list_scripts("localizations", ".json"))


def interrogate_categories() -> list[str]:
    """The CLIP interrogator's category files (setting ``interrogate_clip_skip_categories``)."""
    return clip_interrogator(current_services()).category_types()


def register_choice_providers() -> None:
    """Register every list this app provides (start-up; registering again replaces them)."""
    providers.register(providers.SAMPLERS, sampler_names)
    providers.register(providers.CROSS_ATTENTION_OPTIMIZATIONS, cross_attention_optimizations)
    providers.register(providers.REALESRGAN_MODELS, lambda: [name for name, _url, _scale in REALESRGAN_BUILTIN])
    providers.register(providers.DAT_MODELS, lambda: [name for name, _url, _scale in DAT_BUILTIN])
    providers.register(providers.HYPERNETWORKS, hypernetwork_names)
    providers.register(providers.INTERROGATE_CATEGORIES, interrogate_categories)
    providers.register(providers.REFRESH_HYPERNETWORKS, lambda: live_registry().refresh())
    providers.register(providers.LORA_NETWORKS, lora_names)
    providers.register(providers.REFRESH_LORA_NETWORKS, refresh_loras)
    providers.register(providers.REFRESH_CHECKPOINTS, refresh_checkpoints)
    providers.register(providers.REFRESH_VAE_FILES, refresh_vae_files)
    providers.register(providers.REFRESH_LOCALIZATIONS, refresh_localizations)
