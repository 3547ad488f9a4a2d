"""The list of checkpoints on disk, their lookup aliases and which one to load (A1111's ``sd_models`` listing).

One :class:`CheckpointRegistry` exists per running app; the bootstrap stores it
on ``modules.shared.checkpoints`` and ``modules.sd_models`` exposes its dicts
under A1111's names.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import threading
from typing import TYPE_CHECKING, Any

from modules.models.checkpoints.info import CheckpointInfo
from modules.models.model_files import list_model_files, model_search_dirs

if TYPE_CHECKING:
    from modules.core.cache import DiskCache
    from modules.core.paths import DataPaths

CHECKPOINT_EXTENSIONS = (".ckpt", ".safetensors", ".gguf")
"""Files listed as checkpoints; a ``.gguf`` holds only a quantised diffusion model (models/gguf_files.py)."""
VAE_CHECKPOINT_SUFFIXES = (".vae.ckpt", ".vae.safetensors")

_TRAILING_CHECKSUM = re.compile(r"\s*\[[^]]+]\s*$")


class NoCheckpointsError(FileNotFoundError):
    """No checkpoint file was found in any of the searched locations."""


def _replace_key(d: dict, old_key: str, new_key: str, value: Any) -> None:
    """Rename ``old_key`` to ``new_key`` in place, keeping the entry's position."""
    keys = list(d.keys())
    d[new_key] = value
    if old_key not in keys or old_key == new_key:
        return
    keys[keys.index(old_key)] = new_key
    reordered = {k: d[k] for k in keys}
    d.clear()
    d.update(reordered)


def find_checkpoint_config_near_filename(info: CheckpointInfo | None) -> str | None:
    """The ``<basename>.yaml`` next to the checkpoint, when there is one."""
    if info is None:
        return None
    config = f"{os.path.splitext(info.filename)[0]}.yaml"
    return config if os.path.exists(config) else None


class CheckpointRegistry:
    """Every checkpoint found on disk, by title and by alias.

    ``settings`` is the live options object (``list_hidden_files`` and
    ``sd_model_checkpoint`` are read from it); ``cache`` the on-disk cache
    used for hashes and metadata (``None`` works uncached).
    """

    def __init__(self, paths: "DataPaths", cmd_opts: argparse.Namespace | Any, settings: Any,
                 cache: "DiskCache | None") -> None:
        self.paths = paths
        self.cmd_opts = cmd_opts
        self.settings = settings
        self.cache = cache
        self.checkpoints_list: dict[str, CheckpointInfo] = {}
        """title -> checkpoint, in listing order (A1111's ``checkpoints_list``)."""
        self.checkpoint_aliases: dict[str, CheckpointInfo] = {}
        """every id of every checkpoint -> checkpoint (A1111's ``checkpoint_aliases``)."""
        self._lock = threading.RLock()

    @property
    def model_path(self) -> str:
        """``models/Stable-diffusion``."""
        return self.paths.sd_models_dir

    @property
    def no_hashing(self) -> bool:
        """``--no-hashing``: never compute a full sha256."""
        return bool(getattr(self.cmd_opts, "no_hashing", False))

    def name_roots(self) -> list[str]:
        """Folders a checkpoint's ``name`` is relative to, in order: ``--ckpt-dir``, then ``models/Stable-diffusion``."""
        roots = [self.paths.ckpt_dir] if self.paths.ckpt_dir else []
        return roots + [self.model_path]

    def search_dirs(self) -> list[str]:
        """Folders walked for checkpoints, in order (see :func:`model_search_dirs`)."""
        return model_search_dirs(self.model_path, self.paths.ckpt_dir)

    def refresh(self) -> None:
        """List the checkpoints again (A1111's ``list_models``); never downloads anything.

        An existing ``--ckpt`` file comes first and becomes the value of
        ``sd_model_checkpoint`` for this run (not saved to ``config.json``).
        """
        list_hidden = bool(getattr(self.settings, "list_hidden_files", True))
        cmd_ckpt = getattr(self.cmd_opts, "ckpt", None)

        # build first, then swap under the lock, so readers never see a half-filled list for long
        cmd_info = None
        if cmd_ckpt and os.path.exists(cmd_ckpt):
            cmd_info = CheckpointInfo(os.path.abspath(cmd_ckpt), self)
        elif cmd_ckpt:
            print(f"Checkpoint in --ckpt argument not found (possibly it was moved to {self.model_path}): {cmd_ckpt}",
                  file=sys.stderr)
        files = list_model_files(self.search_dirs(), CHECKPOINT_EXTENSIONS, VAE_CHECKPOINT_SUFFIXES, list_hidden)
        infos = [CheckpointInfo(filename, self) for filename in files]

        with self._lock:
            self.checkpoints_list.clear()
            self.checkpoint_aliases.clear()
            if cmd_info is not None:
                self.register(cmd_info)
                self._set_selected_title(cmd_info.title)
            for info in infos:
                self.register(info)

    def _set_selected_title(self, title: str) -> None:
        # written into the live data, not through set(): a --ckpt choice is for this run only
        data = getattr(self.settings, "data", None)
        if isinstance(data, dict):
            data["sd_model_checkpoint"] = title
        else:
            setattr(self.settings, "sd_model_checkpoint", title)

    def register(self, info: CheckpointInfo) -> None:
        """Add ``info`` under its title and every one of its ids (a later file with the same id wins the id)."""
        with self._lock:
            self.checkpoints_list[info.title] = info
            for alias in info.ids:
                self.checkpoint_aliases[alias] = info

    def retitle(self, info: CheckpointInfo, old_title: str) -> None:
        """Move ``info`` from ``old_title`` to its new title in place and register its new ids."""
        with self._lock:
            if self.checkpoints_list.get(old_title) is info:
                _replace_key(self.checkpoints_list, old_title, info.title, info)
            self.register(info)

    def titles(self, use_short: bool = False) -> list[str]:
        """The titles (or short titles) in listing order (A1111's ``checkpoint_tiles``)."""
        return [info.short_title if use_short else info.title for info in list(self.checkpoints_list.values())]

    def get_closest_match(self, search_string: str | None) -> CheckpointInfo | None:
        """The checkpoint ``search_string`` names (A1111's ``get_closet_checkpoint_match``).

        An exact id first; then the shortest title containing the string; then
        the same with a trailing `` [hash]`` removed from the string.
        """
        if not search_string:
            return None
        info = self.checkpoint_aliases.get(search_string)
        if info is not None:
            return info
        infos = list(self.checkpoints_list.values())
        for needle in (search_string, _TRAILING_CHECKSUM.sub("", search_string)):
            found = sorted((i for i in infos if needle in i.title), key=lambda i: len(i.title))
            if found:
                return found[0]
        return None

    def select(self, wanted: str | None = None) -> CheckpointInfo:
        """The checkpoint to load (A1111's ``select_checkpoint``).

        ``wanted`` (default: setting ``sd_model_checkpoint``) by exact id; when
        unknown, the first listed with a warning.  Raises
        :class:`NoCheckpointsError` naming every searched place when none exists.
        """
        if wanted is None:
            wanted = getattr(self.settings, "sd_model_checkpoint", None)
        info = self.checkpoint_aliases.get(wanted) if wanted else None
        if info is not None:
            return info

        infos = list(self.checkpoints_list.values())
        if not infos:
            raise NoCheckpointsError(self.no_checkpoints_message())
        if wanted:
            print(f"Checkpoint {wanted} not found; loading fallback {infos[0].title}", file=sys.stderr)
        return infos[0]

    def no_checkpoints_message(self) -> str:
        """Explanation for an empty list: where we looked and where to put a file."""
        lines = ["No checkpoints found. When searching for checkpoints, looked at:"]
        cmd_ckpt = getattr(self.cmd_opts, "ckpt", None)
        if cmd_ckpt:
            lines.append(f" - file {os.path.abspath(cmd_ckpt)}")
        lines.append(f" - directory {self.model_path}")
        if self.paths.ckpt_dir:
            lines.append(f" - directory {self.paths.ckpt_dir}")
        lines.append("Can't run without a checkpoint. Find and place a .ckpt or .safetensors file into any of those "
                     f"locations (for example {self.model_path}); this web UI does not download one.")
        return "\n".join(lines)

    def as_api_list(self) -> list[dict[str, Any]]:
        """The items of ``GET /sdapi/v1/sd-models``, in listing order."""
        return [
            {
                "title": info.title,
                "model_name": info.model_name,
                "hash": info.shorthash,
                "sha256": info.sha256,
                "filename": info.filename,
                "config": find_checkpoint_config_near_filename(info),
            }
            for info in list(self.checkpoints_list.values())
        ]
