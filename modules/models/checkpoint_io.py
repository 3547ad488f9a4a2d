"""Reading checkpoint files safely: safetensors (memory-mapped) and ``.ckpt``/``.pt`` pickles.

Pickles go only through ``torch.load(weights_only=True)`` with the short
allow-list below, inside torch's scoped ``safe_globals`` context; ``torch.load``
itself is never replaced.  ``allow_unsafe=True`` (A1111's
``--disable-safe-unpickle``) is the one way to run a full unpickler.
"""
from __future__ import annotations

import json
import math
import pickle
import re
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from modules.models.detection import shape_table
from modules.models.state_dict_fixups import unwrap_state_dict

SAFETENSORS_DTYPES: dict[str, tuple[torch.dtype, int]] = {
    "F64": (torch.float64, 8), "F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8), "I32": (torch.int32, 4), "I16": (torch.int16, 2), "I8": (torch.int8, 1),
    "U8": (torch.uint8, 1), "BOOL": (torch.bool, 1),
    "F8_E4M3": (torch.float8_e4m3fn, 1), "F8_E5M2": (torch.float8_e5m2, 1),
}
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors format's own limit
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")


class CheckpointError(ValueError):
    """A checkpoint file we cannot or will not read; the message names the file."""


HeaderEntry = tuple[str, tuple[int, ...]]


def read_safetensors_header(path: str | Path) -> tuple[dict[str, HeaderEntry], dict[str, str]]:
    """``({key: (dtype, shape)}, metadata)`` from the header, validated against the file size."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path}: not a safetensors file (shorter than 8 bytes)")
            (length,) = struct.unpack("<Q", head)
            if length > MAX_HEADER_BYTES or 8 + length > size:
                raise CheckpointError(
                    f"{path}: not a valid safetensors file: header claims {length} bytes, file has {size}")
            raw = f.read(length)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read: {e}") from e
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file: header is not JSON ({e})") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a valid safetensors file: header is not an object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path}: not a valid safetensors file: __metadata__ is not an object")
    data_size = size - 8 - length
    entries: dict[str, HeaderEntry] = {}
    for key, info in header.items():
        entries[key] = _check_entry(path, key, info, data_size)
    return entries, {str(k): str(v) for k, v in metadata.items()}


def _check_entry(path: Path, key: str, info: Any, data_size: int) -> HeaderEntry:
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{path}: not a valid safetensors file: tensor {key!r} {why}")

    if not isinstance(info, dict):
        raise bad("has no description")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in SAFETENSORS_DTYPES:
        raise bad(f"has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise bad(f"has a bad shape {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise bad(f"has bad data offsets {offsets!r}")
    if offsets[1] > data_size:
        raise bad(f"ends at byte {offsets[1]} but the file holds {data_size} data bytes (truncated?)")
    if offsets[1] - offsets[0] != math.prod(shape) * SAFETENSORS_DTYPES[dtype][1]:
        raise bad(f"spans {offsets[1] - offsets[0]} bytes, its {dtype} shape {shape} needs another size")
    return dtype, tuple(shape)


def load_safetensors(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """All tensors, memory-mapped (CPU) or read straight onto ``device``; the header is checked first."""
    read_safetensors_header(path)
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, RuntimeError) as e:
        raise CheckpointError(f"{path}: cannot load safetensors: {e}") from e


class _IgnoredPickledObject:
    """Stand-in for training-time objects stored beside the weights (Lightning callbacks)."""

    def __setstate__(self, state: Any) -> None:
        pass


def allowed_pickle_globals() -> list[Callable | tuple[Callable, str]]:
    """The allow-list for ``.ckpt`` files beyond torch's tensor-rebuild defaults.

    SD 1.x checkpoints carry a Lightning ``ModelCheckpoint`` callback (replaced by
    an inert stub) whose state holds numpy scalars.
    """
    import codecs

    import numpy as np

    allowed: list[Callable | tuple[Callable, str]] = [
        (_IgnoredPickledObject, "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint"),
        (codecs.encode, "_codecs.encode"),
        np.dtype,
    ]
    scalar = getattr(getattr(np, "_core", np), "multiarray").scalar
    allowed += [(scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar")]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        allowed += [getattr(dtypes, name) for name in dir(dtypes) if name.endswith("DType")]
    return allowed


def load_pickle(path: str | Path, device: str | torch.device = "cpu", allow_unsafe: bool = False) -> Any:
    """A ``.ckpt``/``.pt`` file through the restricted unpickler; refusal names the file and the global."""
    path = Path(path)
    if allow_unsafe:
        return torch.load(path, map_location=device, weights_only=False)
    try:
        mmap = zipfile.is_zipfile(path)
        with torch.serialization.safe_globals(allowed_pickle_globals()):
            return torch.load(path, map_location=device, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        detail = f"it needs {found.group(1)}" if found else str(e).strip().splitlines()[0]
        raise CheckpointError(
            f"refusing to load {path}: {detail}, which is outside the safe-load allow-list. "
            "Convert it to .safetensors, or start with --disable-safe-unpickle if you trust the file.") from e
    except (OSError, RuntimeError, EOFError) as e:
        raise CheckpointError(f"{path}: cannot load checkpoint: {e}") from e


def read_checkpoint(path: str | Path, device: str | torch.device = "cpu", allow_unsafe: bool = False) -> Any:
    """Load a checkpoint by its suffix (``.safetensors`` or a pickle suffix)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".safetensors":
        return load_safetensors(path, device)
    if suffix in PICKLE_SUFFIXES:
        return load_pickle(path, device, allow_unsafe)
    raise CheckpointError(f"{path}: unknown checkpoint type {suffix!r}")


def read_shapes(path: str | Path, allow_unsafe: bool = False) -> dict[str, tuple[int, ...]]:
    """Key shapes without loading weights when the format allows it (safetensors header)."""
    if Path(path).suffix.lower() == ".safetensors":
        entries, _ = read_safetensors_header(path)
        return {k: shape for k, (_, shape) in entries.items()}
    return shape_table(unwrap_state_dict(load_pickle(path, "meta", allow_unsafe)))
