"""LoRA files on disk: A1111's ``NetworkOnDisk`` (name, alias, metadata, hash, SD version) and the listing.

Names are file stems; the alias is the safetensors metadata ``ss_output_name``
(else the name).  An alias two files share, and the alias ``none``, are
*forbidden*: only the file name reaches those files.  Hashes are the "addnet"
hash for safetensors (sha256 of the tensor data only) and the full sha256 for
pickles, read from metadata ``sshs_model_hash`` or the hash cache, and computed
on first use (:meth:`NetworkOnDisk.read_hash`).  Nothing here imports torch.
"""
from __future__ import annotations

import enum
import json
import logging
import os
import sys
from typing import Any, Callable, Iterable

from modules.core import hashing
from modules.core.safetensors_header import SafetensorsHeaderError, read_metadata
from modules.models.model_files import walk_files

log = logging.getLogger(__name__)

EXTENSIONS = (".pt", ".ckpt", ".safetensors")
METADATA_SUBSECTION = "safetensors-metadata"
METADATA_TAGS_ORDER = {"ss_sd_model_name": 1, "ss_resolution": 2, "ss_clip_skip": 3, "ss_num_train_images": 10,
                       "ss_tag_frequency": 20}
"""Metadata keys shown first, in this order (A1111's ``metadata_tags_order``); the rest keep file order."""
ALWAYS_FORBIDDEN_ALIASES = ("none", "Addams")


class SdVersion(enum.Enum):
    """The model family a LoRA was trained for (A1111's ``network.SdVersion``)."""

    Unknown = 1
    SD1 = 2
    SD2 = 3
    SDXL = 4


class NetworkOnDisk:
    """One LoRA file: ``name`` (stem), ``filename``, ``metadata``, ``alias``, ``hash``/``shorthash``, ``sd_version``."""

    def __init__(self, name: str, filename: str, owner: "NetworkFiles | None" = None) -> None:
        self.name = name
        self.filename = filename
        self.owner = owner
        self.is_safetensors = os.path.splitext(filename)[1].lower() == ".safetensors"
        self.metadata: dict[str, Any] = self._read_metadata() if self.is_safetensors else {}
        self.alias: str = str(self.metadata.get("ss_output_name", self.name))
        self.hash = ""
        self.shorthash = ""
        cached = hashing.sha256_from_cache(self._cache(), filename, self.hash_title, self.is_safetensors)
        self.set_hash(str(self.metadata.get("sshs_model_hash") or cached or ""))
        self.sd_version = self.detect_version()

    @property
    def hash_title(self) -> str:
        """The key of this file in the hash and metadata caches (``lora/<name>``)."""
        return f"lora/{self.name}"

    def _cache(self) -> Any:
        return self.owner.cache() if self.owner is not None else None

    def _read_metadata(self) -> dict[str, Any]:
        cache = self._cache()
        try:
            if cache is None:
                metadata = read_metadata(self.filename)
            else:
                metadata = cache.cached_data_for_file(METADATA_SUBSECTION, self.hash_title, self.filename,
                                                      lambda: read_metadata(self.filename)) or {}
        except (OSError, SafetensorsHeaderError) as e:
            # still listed, so the user sees it; loading it reports the problem again
            print(f"Error reading metadata of {self.filename}: {e}", file=sys.stderr)
            return {}
        return dict(sorted(metadata.items(), key=lambda kv: METADATA_TAGS_ORDER.get(kv[0], 999)))

    def detect_version(self) -> SdVersion:
        """From the training metadata: ``ss_base_model_version`` ``sdxl_*``, ``ss_v2``, else SD1 (Unknown: none)."""
        if str(self.metadata.get("ss_base_model_version", "")).startswith("sdxl_"):
            return SdVersion.SDXL
        if str(self.metadata.get("ss_v2", "")) == "True":
            return SdVersion.SD2
        if self.metadata:
            return SdVersion.SD1
        return SdVersion.Unknown

    def set_hash(self, value: str) -> None:
        self.hash = value or ""
        self.shorthash = self.hash[0:12]
        if self.shorthash and self.owner is not None:
            self.owner.hash_lookup[self.shorthash] = self

    def read_hash(self) -> None:
        """Compute the hash if it is not known yet (cached under ``lora/<name>``; skipped with ``--no-hashing``)."""
        if self.hash:
            return
        no_hashing = self.owner.no_hashing() if self.owner is not None else False
        try:
            value = hashing.sha256(self._cache(), self.filename, self.hash_title, self.is_safetensors, no_hashing)
        except OSError as e:
            log.warning("cannot hash %s: %s", self.filename, e)
            value = None
        self.set_hash(value or "")

    def get_alias(self) -> str:
        """What the UI inserts: the alias, or the name with setting ``lora_preferred_name`` = ``Filename``
        or when the alias is forbidden."""
        preferred = self.owner.preferred_name() if self.owner is not None else "Alias from file"
        forbidden = self.owner.forbidden_aliases if self.owner is not None else {}
        if preferred == "Filename" or self.alias.lower() in forbidden:
            return self.name
        return self.alias

    @property
    def user_metadata_path(self) -> str:
        """``<file without extension>.json``: what the user wrote in the card's metadata editor."""
        return os.path.splitext(self.filename)[0] + ".json"

    @property
    def user_metadata(self) -> dict[str, Any]:
        """The user metadata (``description``, ``notes``, ``sd version``, ``activation text``,
        ``preferred weight``, ``negative text``); empty when there is none or it is unreadable."""
        try:
            with open(self.user_metadata_path, "r", encoding="utf8") as file:
                data = json.load(file)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            print(f"Error reading {self.user_metadata_path}: {e}", file=sys.stderr)
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def effective_sd_version(self) -> SdVersion:
        """The user metadata's ``sd version`` when it names a version, else the detected one."""
        chosen = self.user_metadata.get("sd version")
        return SdVersion[chosen] if isinstance(chosen, str) and chosen in SdVersion.__members__ else self.sd_version

    def as_api_item(self) -> dict[str, Any]:
        """The ``/sdapi/v1/loras`` entry."""
        return {"name": self.name, "alias": self.alias, "path": self.filename, "metadata": self.metadata}

    def __repr__(self) -> str:
        return f"NetworkOnDisk({self.name!r}, {self.filename!r})"


class NetworkFiles:
    """The LoRA files found in the LoRA folders, by name and by alias (A1111's ``available_networks`` & co).

    The dicts are kept as the same objects for the app's life, so that modules
    naming them (the extension's ``networks`` module) see every refresh.
    """

    def __init__(self, directories: Callable[[], Iterable[str]], *, cache: Callable[[], Any] = lambda: None,
                 opts: Callable[[], Any] = lambda: None, no_hashing: Callable[[], bool] = lambda: False) -> None:
        self._directories = directories
        self._cache = cache
        self._opts = opts
        self._no_hashing = no_hashing
        self.available: dict[str, NetworkOnDisk] = {}
        self.aliases: dict[str, NetworkOnDisk] = {}
        self.forbidden_aliases: dict[str, int] = {}
        self.hash_lookup: dict[str, NetworkOnDisk] = {}
        self.listed_dirs: tuple[str, ...] | None = None
        """The folders of the last full listing (``None``: never listed)."""

    def cache(self) -> Any:
        return self._cache()

    def no_hashing(self) -> bool:
        return bool(self._no_hashing())

    def preferred_name(self) -> str:
        return getattr(self._opts(), "lora_preferred_name", "Alias from file")

    def _list_hidden(self) -> bool:
        return bool(getattr(self._opts(), "list_hidden_files", True))

    def directories(self) -> tuple[str, ...]:
        """The folders searched (``--lora-dir``, then ``--lyco-dir-backcompat``)."""
        return tuple(d for d in self._directories() if d)

    def candidates(self) -> list[str]:
        """Every LoRA file under the folders, in listing order."""
        files: list[str] = []
        for directory in self.directories():
            files += walk_files(directory, EXTENSIONS, list_hidden=self._list_hidden())
        return files

    def refresh(self, names: Iterable[str] | None = None) -> None:
        """List the files again (``names``: only add files with these stems, as A1111's partial update)."""
        only = set(names) if names is not None else None
        if only is None:
            self.available.clear()
            self.aliases.clear()
            self.forbidden_aliases.clear()
            self.hash_lookup.clear()
            self.forbidden_aliases.update({alias: 1 for alias in ALWAYS_FORBIDDEN_ALIASES})
            self.listed_dirs = self.directories()
        for filename in self.candidates():
            name = os.path.splitext(os.path.basename(filename))[0]
            if only is not None and name not in only:
                continue
            try:
                entry = NetworkOnDisk(name, filename, owner=self)
            except OSError as e:
                print(f"*** Failed to read network {name} from {filename}: {e}", file=sys.stderr)
                continue
            self.available[name] = entry
            if entry.alias in self.aliases:
                self.forbidden_aliases[entry.alias.lower()] = 1
            self.aliases[name] = entry
            self.aliases[entry.alias] = entry

    def ensure_listed(self) -> None:
        """List the files if that was never done, or the folders changed since."""
        if self.listed_dirs is None or self.listed_dirs != self.directories():
            self.refresh()

    def find(self, name: str) -> NetworkOnDisk | None:
        """The file a prompt's name means: a forbidden alias only by file name, else name or alias."""
        if name.lower() in self.forbidden_aliases:
            return self.available.get(name)
        return self.aliases.get(name)

    def resolve(self, names: list[str]) -> list[NetworkOnDisk | None]:
        """:meth:`find` for each name, listing again (as A1111) when some are not known."""
        self.ensure_listed()
        found = [self.find(n) for n in names]
        if any(x is None for x in found):
            self.refresh([n for n, x in zip(names, found) if x is None])
            found = [self.find(n) for n in names]
        if any(x is None for x in found):
            self.refresh()
            found = [self.find(n) for n in names]
        return found
