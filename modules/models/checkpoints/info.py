"""One checkpoint file as the UI and the API name it (A1111's ``sd_models.CheckpointInfo``)."""
from __future__ import annotations

import os
import sys
from typing import Any, Protocol

from modules.core import hashing
from modules.core.safetensors_header import SafetensorsHeaderError, read_metadata_and_thumbnail
from modules.core.services import current_services

METADATA_SUBSECTION = "safetensors-metadata"


class CheckpointList(Protocol):
    """What a :class:`CheckpointInfo` needs of its list.

    :class:`modules.models.checkpoints.registry.CheckpointRegistry` is one; it imports this module, so the type is
    described here rather than imported.
    """

    cache: Any
    no_hashing: bool

    def name_roots(self) -> list[str]: ...

    def register(self, info: "CheckpointInfo") -> None: ...

    def retitle(self, info: "CheckpointInfo", old_title: str) -> None: ...


def _live_registry() -> CheckpointList:
    # A1111 extensions write ``sd_models.CheckpointInfo(filename)``; that form uses the running app's registry
    registry = current_services().checkpoints
    if registry is None:
        raise RuntimeError("CheckpointInfo(filename) needs the checkpoint registry, which the bootstrap has not created yet")
    return registry


def _relative_name(abspath: str, roots: list[str]) -> str | None:
    for root in roots:
        root = os.path.abspath(root)
        if abspath == root or not abspath.startswith(root.rstrip(os.sep) + os.sep):
            continue
        return abspath[len(root):].lstrip("/\\")
    return None


class CheckpointInfo:
    """A checkpoint file with A1111's names, hashes and lookup ids.

    ``title`` is what the checkpoint dropdown and ``sd_model_checkpoint`` show:
    ``name [shorthash]`` once the sha256 is known, ``name`` before.  The sha256
    is computed lazily (:meth:`calculate_shorthash`) because it reads the whole file.
    """

    def __init__(self, filename: str, registry: CheckpointList | None = None) -> None:
        """Describe ``filename``; ``registry`` defaults to the running app's (``modules.shared.checkpoints``)."""
        self.registry = registry if registry is not None else _live_registry()
        self.filename = filename
        abspath = os.path.abspath(filename)
        self.is_safetensors = os.path.splitext(filename)[1].lower() == ".safetensors"

        name = _relative_name(abspath, self.registry.name_roots())
        self.name = name if name is not None else os.path.basename(filename)
        self.name_for_extra = os.path.splitext(os.path.basename(filename))[0]
        self.model_name = os.path.splitext(self.name.replace("/", "_").replace("\\", "_"))[0]

        self.modelspec_thumbnail: Any = None
        self.metadata: dict[str, Any] = self._read_metadata() if self.is_safetensors else {}

        self.hash = hashing.legacy_model_hash(filename)
        self.sha256 = hashing.sha256_from_cache(self.registry.cache, filename, self.hash_title)
        self.shorthash = self.sha256[0:10] if self.sha256 else None

        self.title = self.name if self.shorthash is None else f"{self.name} [{self.shorthash}]"
        self.short_title = self.name_for_extra if self.shorthash is None else f"{self.name_for_extra} [{self.shorthash}]"

        self.ids = [self.hash, self.model_name, self.title, self.name, self.name_for_extra, f"{self.name} [{self.hash}]"]
        if self.shorthash:
            self.ids += self._sha256_ids()

    @property
    def hash_title(self) -> str:
        """The key of this file in the ``hashes`` and ``safetensors-metadata`` caches."""
        return f"checkpoint/{self.name}"

    def _sha256_ids(self) -> list[str]:
        return [self.shorthash, self.sha256, f"{self.name} [{self.shorthash}]", f"{self.name_for_extra} [{self.shorthash}]"]

    def _read_metadata(self) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            metadata, self.modelspec_thumbnail = read_metadata_and_thumbnail(self.filename)
            return metadata

        cache = self.registry.cache
        try:
            if cache is None:
                return read()
            return cache.cached_data_for_file(METADATA_SUBSECTION, self.hash_title, self.filename, read) or {}
        except (OSError, SafetensorsHeaderError) as e:
            # a broken file is still listed (the user sees it and the load error); only its metadata is lost
            print(f"Error reading metadata for {self.filename}: {e}", file=sys.stderr)
            return {}

    def register(self) -> None:
        """Add this checkpoint to its registry's list under its title and to the aliases under every id."""
        self.registry.register(self)

    def calculate_shorthash(self) -> str | None:
        """Compute (or fetch from the cache) the sha256, then retitle to ``name [shorthash]``.

        Returns the 10-hex short hash, or ``None`` with ``--no-hashing`` and no cached value.
        """
        self.sha256 = hashing.sha256(self.registry.cache, self.filename, self.hash_title,
                                     no_hashing=self.registry.no_hashing)
        if self.sha256 is None:
            return None

        shorthash = self.sha256[0:10]
        if self.shorthash == shorthash:
            return self.shorthash
        self.shorthash = shorthash

        if self.shorthash not in self.ids:
            self.ids += self._sha256_ids()

        old_title = self.title
        self.title = f"{self.name} [{self.shorthash}]"
        self.short_title = f"{self.name_for_extra} [{self.shorthash}]"
        self.registry.retitle(self, old_title)
        return self.shorthash

    def __repr__(self) -> str:
        return str({"filename": self.filename, "hash": self.hash})

    __str__ = __repr__
