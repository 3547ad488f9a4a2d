"""Named providers of the Settings tab's lists that come from the running app's other parts.

The options catalogue sits in ``core``, below the samplers, the upscalers, the networks and the
UI, so it cannot ask them for their names itself. Instead each list has a name here, and the
start-up (:func:`modules.runtime.choice_providers.register_choice_providers`) registers a
zero-argument function for it; the catalogue's choices call :func:`choices` when the Settings
tab (or a value check) asks, never at import or build time. A name nobody registered answers an
empty list (that part of the app is not there), and its refresh action does nothing.

Extensions may register their own lists the same way (``register("my_list", fn)``).
"""
from __future__ import annotations

from typing import Any, Callable

SAMPLERS = "samplers"
"""Names of every sampler (setting ``hide_samplers``)."""
CROSS_ATTENTION_OPTIMIZATIONS = "cross_attention_optimizations"
"""Attention optimizations besides ``Automatic`` and ``None`` (setting ``cross_attention_optimization``)."""
SD_UNETS = "sd_unets"
"""Labels of the UNet options extensions add (setting ``sd_unet``); ``REFRESH_SD_UNETS`` lists them again."""
REFRESH_SD_UNETS = "refresh_sd_unets"
INTERROGATE_CATEGORIES = "interrogate_categories"
"""The CLIP interrogator's categories (setting ``interrogate_clip_skip_categories``)."""
REALESRGAN_MODELS = "realesrgan_models"
"""Names of the built-in Real-ESRGAN models (setting ``realesrgan_enabled_models``)."""
DAT_MODELS = "dat_models"
"""Names of the built-in DAT models (setting ``dat_enabled_models``)."""
HYPERNETWORKS = "hypernetworks"
"""Names of the hypernetwork files (setting ``sd_hypernetwork``); ``REFRESH_HYPERNETWORKS`` lists them again."""
REFRESH_HYPERNETWORKS = "refresh_hypernetworks"
LORA_NETWORKS = "lora_networks"
"""Names of the Lora files (setting ``sd_lora``); ``REFRESH_LORA_NETWORKS`` lists them again."""
REFRESH_LORA_NETWORKS = "refresh_lora_networks"
REFRESH_CHECKPOINTS = "refresh_checkpoints"
"""Lists the checkpoint files again (setting ``sd_model_checkpoint``'s refresh button)."""
REFRESH_VAE_FILES = "refresh_vae_files"
"""Lists the VAE files again (setting ``sd_vae``'s refresh button)."""
REFRESH_LOCALIZATIONS = "refresh_localizations"
"""Lists the localization files again (setting ``localization``'s refresh button)."""
INFOTEXT_PASTE_FIELDS = "infotext_paste_fields"
"""Infotext names of the fields the UI's paste buttons fill (setting ``infotext_skip_pasting``)."""

_providers: dict[str, Callable[[], Any]] = {}


def register(name: str, provider: Callable[[], Any]) -> None:
    """Make ``provider`` answer list (or refresh action) ``name``; a later registration replaces it."""
    _providers[name] = provider


def unregister(name: str) -> None:
    """Forget the provider of ``name`` (its list is empty again)."""
    _providers.pop(name, None)


def is_registered(name: str) -> bool:
    return name in _providers


def call(name: str) -> Any:
    """Run the provider of ``name`` and return its answer (``None`` when nothing is registered)."""
    provider = _providers.get(name)
    return provider() if provider is not None else None


def choices(name: str) -> list:
    """The list provider ``name`` answers now (empty when nothing is registered or it answers ``None``)."""
    return list(call(name) or [])


def refresher(name: str) -> Callable[[], Any]:
    """A refresh action for a setting's refresh button: runs provider ``name`` when it is called."""
    def refresh() -> Any:
        return call(name)

    return refresh
