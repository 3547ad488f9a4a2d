"""A1111's ``modules.sd_vae`` names for the VAE file list (the live registry of the installed services).

``vae_dict`` and ``vae_path`` are read from the running app on access.
"""
from __future__ import annotations

import os
from typing import Any

from modules.core.services import current_services


def _registry() -> Any:
    vae_files = current_services().vae_files
    if vae_files is None:
        raise RuntimeError("the VAE list is not set up yet (modules.shared.vae_files is None)")
    return vae_files


def get_filename(filepath: str) -> str:
    """The name a VAE file is listed under: its file name."""
    return os.path.basename(filepath)


def refresh_vae_list() -> None:
    """List the VAE files on disk again."""
    _registry().refresh()


def find_vae_near_checkpoint(checkpoint_file: str) -> str | None:
    """A VAE whose file name starts with the checkpoint's base name, or ``None``."""
    return _registry().find_near_checkpoint(checkpoint_file)


def __getattr__(name: str) -> Any:
    if name == "vae_dict":
        return _registry().vae_dict
    if name == "vae_path":
        return _registry().vae_path
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
