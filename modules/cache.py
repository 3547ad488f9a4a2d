"""A1111's ``modules.cache`` for extensions: the live :class:`modules.core.cache.DiskCache`."""
from __future__ import annotations

from typing import Any, Callable, MutableMapping

from modules.core.services import current_services


def _disk_cache() -> Any:
    disk_cache = current_services().cache
    if disk_cache is None:
        raise RuntimeError("the on-disk cache is not set up yet (modules.shared.cache is None)")
    return disk_cache


def cache(subsection: str) -> MutableMapping[str, Any]:
    """The persistent mapping named ``subsection`` (``hashes``, ``safetensors-metadata`` ...)."""
    return _disk_cache().cache(subsection)


def cached_data_for_file(subsection: str, title: str, filename: str, func: Callable[[], Any]) -> Any:
    """``func()`` for ``filename``, cached under ``title`` until the file's mtime changes."""
    return _disk_cache().cached_data_for_file(subsection, title, filename, func)


def dump_cache() -> None:
    """Does nothing: every write is already on disk (kept because A1111 extensions call it)."""
