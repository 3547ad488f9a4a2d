"""The VAE files on disk, by file name (the listing half of A1111's ``sd_vae``).

Searched, in order (a later file with the same name wins):
``models/Stable-diffusion/**/*.vae.{ckpt,pt,safetensors}``,
``models/VAE/**/*.{ckpt,pt,safetensors}``, then the same patterns in
``--ckpt-dir`` (``.vae.`` files only) and ``--vae-dir``.  Like A1111's glob
patterns, files and folders whose name starts with ``.`` are not listed.
"""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from modules.models.model_files import natural_sort_key, walk_files

if TYPE_CHECKING:
    from modules.core.paths import DataPaths

VAE_EXTENSIONS = (".ckpt", ".pt", ".safetensors")
VAE_SUFFIXES = tuple(".vae" + ext for ext in VAE_EXTENSIONS)


def _find(folder: str, suffixes: tuple[str, ...]) -> list[str]:
    found = []
    for path in walk_files(folder, VAE_EXTENSIONS, list_hidden=False):
        name = os.path.basename(path)
        if not name.startswith(".") and name.lower().endswith(suffixes):
            found.append(os.path.abspath(path))
    return found


class VaeRegistry:
    """Every VAE file found, keyed by file name (``vae_dict``), natural-sorted."""

    def __init__(self, paths: "DataPaths", cmd_opts: Any = None) -> None:
        """``cmd_opts`` is accepted for symmetry with the checkpoint registry; the flags
        this listing uses (``--ckpt-dir``, ``--vae-dir``) are already in ``paths``."""
        self.paths = paths
        self.vae_dict: dict[str, str] = {}
        """file name -> absolute path (A1111's ``sd_vae.vae_dict``)."""
        self._lock = threading.Lock()

    @property
    def vae_path(self) -> str:
        """``models/VAE``."""
        return os.path.abspath(self.paths.model_dir("VAE"))

    def search_places(self) -> list[tuple[str, tuple[str, ...]]]:
        """(folder, accepted name endings) in search order."""
        places = [(self.paths.sd_models_dir, VAE_SUFFIXES), (self.vae_path, VAE_EXTENSIONS)]
        if self.paths.ckpt_dir and os.path.isdir(self.paths.ckpt_dir):
            places.append((self.paths.ckpt_dir, VAE_SUFFIXES))
        if self.paths.vae_dir and os.path.isdir(self.paths.vae_dir):
            places.append((self.paths.vae_dir, VAE_EXTENSIONS))
        return places

    def refresh(self) -> None:
        """List the VAE files again (A1111's ``refresh_vae_list``)."""
        found: dict[str, str] = {}
        for folder, suffixes in self.search_places():
            for path in _find(folder, suffixes):
                found[os.path.basename(path)] = path
        ordered = dict(sorted(found.items(), key=lambda item: natural_sort_key(item[0])))
        with self._lock:
            # in place: code holding ``vae_dict`` keeps seeing the live list
            self.vae_dict.clear()
            self.vae_dict.update(ordered)

    def find_near_checkpoint(self, checkpoint_file: str) -> str | None:
        """A VAE whose file name starts with the checkpoint's base name ("found near the checkpoint")."""
        base = os.path.basename(checkpoint_file).rsplit(".", 1)[0]
        for path in list(self.vae_dict.values()):
            if os.path.basename(path).startswith(base):
                return path
        return None

    def as_api_list(self) -> list[dict[str, Any]]:
        """The items of ``GET /sdapi/v1/sd-vae``."""
        return [{"model_name": name, "filename": path} for name, path in list(self.vae_dict.items())]
