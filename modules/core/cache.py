"""The on-disk key/value caches under ``data/cache/`` (A1111's ``modules.cache``).

One ``diskcache`` store per sub-section name (``hashes``, ``hashes-addnet``,
``safetensors-metadata``, ``extensions-git`` ...), each in its own folder, laid
out as A1111 lays them out so that an existing A1111 data dir is reused as is.

Nothing is opened at import: the bootstrap builds one :class:`DiskCache` and
stores it on ``modules.shared.cache``; each sub-cache is opened the first time
it is asked for.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import threading
from typing import TYPE_CHECKING, Any, Callable, MutableMapping

if TYPE_CHECKING:
    from modules.core.paths import DataPaths

# Same sizes as A1111, so both programs can share one cache folder.
_SIZE_LIMIT = 2**32
_DISK_MIN_FILE_SIZE = 2**18


class DiskCache:
    """A set of named, persistent caches living in one folder.

    ``cache(name)`` returns a mapping (a ``diskcache.Cache``) that survives
    restarts; :meth:`cached_data_for_file` stores a value computed from a file
    together with the file's modification time and recomputes it once the file
    changes.  Safe to use from several threads.
    """

    def __init__(self, cache_dir: str, legacy_file: str | None = None, aside_dir: str | None = None) -> None:
        """``legacy_file`` is A1111's old single-file cache, converted on first use when
        ``cache_dir`` does not exist yet; by default ``SD_WEBUI_CACHE_FILE`` or the
        ``cache.json`` beside ``cache_dir`` (``""`` turns conversion off).  A corrupt
        one is moved into ``aside_dir`` (default: ``tmp/`` beside it)."""
        self.cache_dir = cache_dir
        if legacy_file is None:
            legacy_file = os.environ.get("SD_WEBUI_CACHE_FILE") or os.path.join(
                os.path.dirname(os.path.abspath(cache_dir)), "cache.json")
        self.legacy_file = legacy_file
        self.aside_dir = aside_dir
        self._caches: dict[str, MutableMapping[str, Any]] = {}
        self._lock = threading.RLock()
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        self._checked_legacy = False

    @classmethod
    def for_paths(cls, paths: "DataPaths") -> "DiskCache":
        """The cache the app uses: ``paths.cache_dir`` (``SD_WEBUI_CACHE_DIR`` already applied),
        migrating ``SD_WEBUI_CACHE_FILE`` or ``<data-dir>/cache.json``; a corrupt one goes to ``tmp/``."""
        legacy = os.environ.get("SD_WEBUI_CACHE_FILE") or os.path.join(paths.data_dir, "cache.json")
        return cls(paths.cache_dir, legacy_file=legacy, aside_dir=paths.tmp_dir)

    def cache(self, subsection: str) -> MutableMapping[str, Any]:
        """The persistent mapping named ``subsection``, opened on first use."""
        existing = self._caches.get(subsection)
        if existing is not None:
            return existing
        with self._lock:
            if not self._checked_legacy:
                self._checked_legacy = True
                self._convert_legacy_file()
            existing = self._caches.get(subsection)
            if existing is None:
                existing = self._open(subsection)
                self._caches[subsection] = existing
            return existing

    def cached_data_for_file(self, subsection: str, title: str, filename: str, func: Callable[[], Any]) -> Any:
        """The value ``func()`` computed for ``filename``, cached under ``title``.

        The stored entry is ``{"mtime": <file mtime>, "value": <value>}`` (A1111's
        layout).  It is recomputed when the file's mtime differs from the stored
        one; a ``None`` result is returned but not stored.  Raises ``OSError`` when
        the file is missing.
        """
        store = self.cache(subsection)
        ondisk_mtime = os.path.getmtime(filename)

        entry = _valid_entry(store.get(title), ondisk_mtime)
        if entry is not None:
            return entry["value"]

        # one computation per key at a time; different files still hash in parallel
        with self._key_lock(subsection, title):
            entry = _valid_entry(store.get(title), ondisk_mtime)
            if entry is not None:
                return entry["value"]
            value = func()
            if value is None:
                return None
            store[title] = {"mtime": ondisk_mtime, "value": value}
            return value

    def close(self) -> None:
        """Close every opened sub-cache (they reopen on the next use)."""
        with self._lock:
            for store in self._caches.values():
                closer = getattr(store, "close", None)
                if closer is not None:
                    closer()
            self._caches.clear()

    def _key_lock(self, subsection: str, title: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault((subsection, title), threading.Lock())

    def _open(self, subsection: str) -> MutableMapping[str, Any]:
        import diskcache  # imported late: nothing is opened at import time

        try:
            return diskcache.Cache(
                os.path.join(self.cache_dir, subsection),
                size_limit=_SIZE_LIMIT,
                disk_min_file_size=_DISK_MIN_FILE_SIZE,
            )
        except (OSError, sqlite3.Error) as e:
            # a read-only or broken cache folder must not stop the app: work uncached
            print(f"[cache] cannot open cache {subsection!r} in {self.cache_dir}: {e}; "
                  "using a cache that lasts until restart", file=sys.stderr)
            return {}

    def _convert_legacy_file(self) -> None:
        legacy = self.legacy_file
        if not legacy or os.path.exists(self.cache_dir) or not os.path.isfile(legacy):
            return
        try:
            with open(legacy, "r", encoding="utf8") as file:
                data = json.load(file)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:
            self._move_aside(legacy, e)
            return

        count = 0
        for subsection, keyvalues in data.items():
            if not isinstance(keyvalues, dict):
                continue
            store = self._caches.get(subsection)
            if store is None:
                store = self._open(subsection)
                self._caches[subsection] = store
            for key, value in keyvalues.items():
                store[key] = value
                count += 1
        print(f"Converted {count} entries of {legacy} into {self.cache_dir}")

    def _move_aside(self, legacy: str, error: Exception) -> None:
        target_dir = self.aside_dir or os.path.join(os.path.dirname(legacy), "tmp")
        try:
            os.makedirs(target_dir, exist_ok=True)
            shutil.move(legacy, os.path.join(target_dir, os.path.basename(legacy)))
            where = f"moved to {target_dir}"
        except OSError as move_error:
            where = f"could not be moved aside ({move_error})"
        print(f"[ERROR] could not read {legacy} ({error}); the old cache was {where}", file=sys.stderr)


def _valid_entry(entry: Any, ondisk_mtime: float) -> dict | None:
    """The stored entry when it is still good for a file with this mtime."""
    if not isinstance(entry, dict) or "value" not in entry:
        return None
    # any change counts (a file restored from a backup can be older than the cached one)
    if entry.get("mtime", 0) != ondisk_mtime:
        return None
    return entry
