"""A1111's ``modules.hashes``: file hashes cached in the live on-disk cache."""
from __future__ import annotations

from typing import Any

from modules.core import hashing
from modules.core.hashing import addnet_hash_safetensors, calculate_sha256  # noqa: F401  (A1111 names)
from modules.core.services import current_services


def _cache() -> Any:
    return current_services().cache


def _no_hashing() -> bool:
    return bool(getattr(current_services().cmd_opts, "no_hashing", False))


def sha256_from_cache(filename: str, title: str, use_addnet_hash: bool = False) -> str | None:
    """The cached sha256 (or addnet hash) of ``filename`` under ``title``, or ``None``."""
    return hashing.sha256_from_cache(_cache(), filename, title, use_addnet_hash)


def sha256(filename: str, title: str, use_addnet_hash: bool = False) -> str | None:
    """The sha256 (or addnet hash) of ``filename``, computed and cached unless ``--no-hashing``."""
    return hashing.sha256(_cache(), filename, title, use_addnet_hash, no_hashing=_no_hashing())
