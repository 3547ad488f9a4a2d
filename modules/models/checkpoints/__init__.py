"""Checkpoint files: discovery, names, hashes and selection (A1111's ``sd_models`` listing half)."""
from modules.models.checkpoints.info import CheckpointInfo
from modules.models.checkpoints.registry import (
    CHECKPOINT_EXTENSIONS,
    VAE_CHECKPOINT_SUFFIXES,
    CheckpointRegistry,
    NoCheckpointsError,
    find_checkpoint_config_near_filename,
)

__all__ = [
    "CHECKPOINT_EXTENSIONS",
    "VAE_CHECKPOINT_SUFFIXES",
    "CheckpointInfo",
    "CheckpointRegistry",
    "NoCheckpointsError",
    "find_checkpoint_config_near_filename",
]
