"""Switching the live checkpoint for a job (settings overrides, hires and refiner checkpoints) through the
services' model manager (:class:`modules.models.manager.ModelManager`)."""
from __future__ import annotations

from typing import Any

from modules.core.services import Services


def reload_model_weights(services: Services, info: Any = None) -> Any:
    """Load the checkpoint setting ``sd_model_checkpoint`` names (or ``info``) unless it is already live; returns
    the live model.  An explicit checkpoint (refiner, hires checkpoint) does not become the setting, as A1111's
    ``SkipWritingToConfig``.  Without a model manager (tests, a runtime without models) nothing loads."""
    manager = services.model_manager
    if manager is None:
        return services.sd_model
    manager.reload_model_weights(info, write_setting=info is None)
    return services.sd_model


FP8_KEYS = ("fp8_storage", "cache_fp16_weight")
"""Settings that decide how the loaded weights are stored (``modules/models/fp8_storage.py``)."""


def apply_fp8_setting(services: Services, changed: Any) -> None:
    """After the settings ``changed`` (keys) took new values for a job: if they include the FP8 storage ones,
    reload the live checkpoint when its storage no longer matches them."""
    manager = services.model_manager
    if manager is not None and any(key in changed for key in FP8_KEYS):
        manager.apply_fp8_setting()
