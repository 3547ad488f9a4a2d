"""A1111's ``modules.sd_models`` names for the checkpoint list (the live registry of the installed services).

``checkpoints_list``, ``checkpoint_aliases`` and ``model_path`` are read from
the running app on access, so ``sd_models.checkpoints_list`` is always current.
"""
from __future__ import annotations

from typing import Any

from modules.core.hashing import legacy_model_hash as model_hash  # noqa: F401  (A1111 name)
from modules.core.services import current_services
from modules.core.safetensors_header import read_metadata
from modules.models.checkpoints import (  # noqa: F401  (A1111 names)
    CheckpointInfo,
    NoCheckpointsError,
    find_checkpoint_config_near_filename,
)


def _registry() -> Any:
    checkpoints = current_services().checkpoints
    if checkpoints is None:
        raise RuntimeError("the checkpoint list is not set up yet (modules.shared.checkpoints is None)")
    return checkpoints


def list_models() -> None:
    """List the checkpoints on disk again."""
    _registry().refresh()


def checkpoint_tiles(use_short: bool = False) -> list[str]:
    """Titles (or short titles) of every checkpoint, in listing order."""
    return _registry().titles(use_short)


def get_closet_checkpoint_match(search_string: str) -> CheckpointInfo | None:
    """The checkpoint a title, name or hash refers to (A1111's spelling of "closest")."""
    return _registry().get_closest_match(search_string)


def select_checkpoint() -> CheckpointInfo:
    """The checkpoint setting ``sd_model_checkpoint`` names, or the first one; raises ``FileNotFoundError`` if none."""
    return _registry().select()


def _manager() -> Any:
    manager = current_services().model_manager
    if manager is None:
        raise RuntimeError("models cannot be loaded yet (modules.shared.model_manager is None)")
    return manager


def reload_model_weights(sd_model: Any = None, info: CheckpointInfo | None = None, forced_reload: bool = False) -> Any:
    """Load the checkpoint setting ``sd_model_checkpoint`` names (or ``info``) unless it is already live."""
    services = current_services()
    if services.model_manager is None:
        return services.sd_model
    # an explicit checkpoint (refiner, hires checkpoint) does not become the setting, as A1111's SkipWritingToConfig
    return services.model_manager.reload_model_weights(info, write_setting=info is None)


def load_model(checkpoint_info: CheckpointInfo | None = None, already_loaded_state_dict: Any = None) -> Any:
    """Load ``checkpoint_info`` (default: the selected checkpoint) and make it the live model."""
    return _manager().load(checkpoint_info or select_checkpoint())


def unload_model_weights(sd_model: Any = None, info: Any = None) -> None:
    """Move the live model to RAM."""
    _manager().unload()


def send_model_to_device(m: Any = None) -> None:
    _manager().reload()


def read_metadata_from_safetensors(filename: str) -> dict:
    """The parsed ``__metadata__`` of a safetensors file (thumbnail included, as A1111 returns it)."""
    return read_metadata(filename, keep_thumbnail=True)


def __getattr__(name: str) -> Any:
    if name in ("checkpoints_list", "checkpoint_aliases"):
        return getattr(_registry(), name)
    if name == "model_data":
        return current_services().model_manager
    if name == "model_path":
        return current_services().paths.sd_models_dir
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
