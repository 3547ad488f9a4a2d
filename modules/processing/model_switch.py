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
