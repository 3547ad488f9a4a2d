"""Model file hashes: A1111's legacy 8-hex hash, the full sha256 and the LoRA "addnet" hash.

The full hashes are slow on multi-GB files, so they are kept in the on-disk
cache (sub-cache ``hashes`` or ``hashes-addnet``) under a title such as
``checkpoint/<name>``, stored as ``{"mtime": ..., "sha256": ...}`` exactly as
A1111 stores them, and recomputed only when the file changes.

Callers pass ``no_hashing`` (``--no-hashing``) explicitly; nothing here reads
global state.
"""
from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from modules.core.cache import DiskCache

BLOCK_SIZE = 1024 * 1024
"""Files are hashed in 1 MiB reads."""

LEGACY_HASH_OFFSET = 0x100000
LEGACY_HASH_LENGTH = 0x10000

HASHES_SUBSECTION = "hashes"
ADDNET_HASHES_SUBSECTION = "hashes-addnet"


def legacy_model_hash(filename: str) -> str:
    """A1111's old "model hash": sha256 of the 64 KiB at offset 1 MiB, first 8 hex digits.

    ``NOFILE`` when the file does not exist.  (Files shorter than 1 MiB hash the
    empty string, as in A1111.)
    """
    try:
        with open(filename, "rb") as file:
            file.seek(LEGACY_HASH_OFFSET)
            return hashlib.sha256(file.read(LEGACY_HASH_LENGTH)).hexdigest()[0:8]
    except FileNotFoundError:
        return "NOFILE"


def _hash_stream(file: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: file.read(BLOCK_SIZE), b""):
        digest.update(chunk)
    return digest.hexdigest()


def calculate_sha256(filename: str) -> str:
    """The sha256 of the whole file, read in 1 MiB blocks."""
    with open(filename, "rb") as file:
        return _hash_stream(file)


def addnet_hash_safetensors(file: BinaryIO) -> str:
    """The sha256 of an open safetensors file without its 8-byte length and JSON header.

    This is the hash sd-scripts / the "Additional Networks" extension use for
    LoRAs, so it does not change when only the metadata is edited.
    """
    file.seek(0)
    header_length = int.from_bytes(file.read(8), "little")
    file.seek(header_length + 8)
    return _hash_stream(file)


def calculate_addnet_hash(filename: str) -> str:
    """:func:`addnet_hash_safetensors` of the file at ``filename``."""
    with open(filename, "rb") as file:
        return addnet_hash_safetensors(file)


def _subsection(use_addnet_hash: bool) -> str:
    return ADDNET_HASHES_SUBSECTION if use_addnet_hash else HASHES_SUBSECTION


def sha256_from_cache(cache: "DiskCache | None", filename: str, title: str, use_addnet_hash: bool = False) -> str | None:
    """The cached hash for ``title``, or ``None`` when unknown, stale or the file is gone.

    An entry is stale when the file's mtime differs from the stored one.
    """
    if cache is None:
        return None
    try:
        ondisk_mtime = os.path.getmtime(filename)
    except OSError:
        return None
    entry: Any = cache.cache(_subsection(use_addnet_hash)).get(title)
    if not isinstance(entry, dict):
        return None
    cached = entry.get("sha256")
    if not cached or entry.get("mtime", 0) != ondisk_mtime:
        return None
    return cached


def sha256(cache: "DiskCache | None", filename: str, title: str, use_addnet_hash: bool = False,
           no_hashing: bool = False) -> str | None:
    """The full sha256 (or addnet hash) of ``filename``, from the cache or computed and cached.

    Returns ``None`` when it is not cached and ``no_hashing`` forbids computing
    it.  Prints ``Calculating sha256 for <file>: <hash>`` while it computes,
    as A1111 does (hashing a large checkpoint takes a while).
    """
    cached = sha256_from_cache(cache, filename, title, use_addnet_hash)
    if cached is not None:
        return cached
    if no_hashing:
        return None

    # mtime taken before reading, so a file changed while hashing is hashed again next time
    mtime = os.path.getmtime(filename)
    print(f"Calculating sha256 for {filename}: ", end="", flush=True)
    value = calculate_addnet_hash(filename) if use_addnet_hash else calculate_sha256(filename)
    print(value)

    if cache is not None:
        cache.cache(_subsection(use_addnet_hash))[title] = {"mtime": mtime, "sha256": value}
    return value
