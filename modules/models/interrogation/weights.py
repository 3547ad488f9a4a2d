"""Reading the interrogators' files without running code from them.

``model_base_caption_capfilt_large.pth`` and ``model-resnet_custom_v3.pt`` are plain pickled dicts:
they go through the checkpoint reader's restricted unpickler.  OpenAI's ``ViT-L-14.pt`` is a
TorchScript archive; instead of ``torch.jit.load`` (which would build and run its TorchScript
classes) :func:`read_torchscript_weights` unpickles its ``data.pkl`` with an unpickler that knows
only tensors and inert stand-ins for the archive's module objects, and flattens those into a state dict.
A ``.safetensors`` file with the same keys is read as it is.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from modules.models.checkpoint_io import CheckpointError, read_checkpoint

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
    "DoubleStorage": torch.float64, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}


class _ScriptObject:
    """Stand-in for one TorchScript object of the archive: only its attributes are kept."""

    def __setstate__(self, state: Any) -> None:
        self.attributes = state if isinstance(state, dict) else {}


def _rebuild_tensor(storage: torch.Tensor, offset: int, size: tuple, stride: tuple, *_: Any) -> torch.Tensor:
    return storage.as_strided(size, stride, offset)


def _rebuild_parameter(data: torch.Tensor, *_: Any) -> torch.Tensor:
    return data


class _ArchiveUnpickler(pickle.Unpickler):
    def __init__(self, archive: zipfile.ZipFile, prefix: str, data: bytes) -> None:
        import io

        super().__init__(io.BytesIO(data))
        self.archive = archive
        self.prefix = prefix
        self.storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            return _ScriptObject
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "collections" and name == "OrderedDict":
            import collections

            return collections.OrderedDict
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise pickle.UnpicklingError(f"GLOBAL {module}.{name} is not allowed in a CLIP archive")

    def persistent_load(self, pid: Any) -> torch.Tensor:
        kind, storage_type, key, _location, _numel = pid
        if kind != "storage" or storage_type not in _STORAGE_DTYPES:
            raise pickle.UnpicklingError(f"unknown storage {pid!r}")
        if key not in self.storages:
            raw = bytearray(self.archive.read(f"{self.prefix}/data/{key}"))
            dtype = _STORAGE_DTYPES[storage_type]
            self.storages[key] = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        return self.storages[key]


def _flatten(obj: Any, prefix: str, out: dict[str, torch.Tensor]) -> None:
    for name, value in getattr(obj, "attributes", {}).items():
        if isinstance(value, torch.Tensor):
            out[prefix + name] = value
        elif isinstance(value, _ScriptObject):
            _flatten(value, f"{prefix}{name}.", out)


def read_torchscript_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a TorchScript archive by attribute path (``visual.conv1.weight``...), no code run."""
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
            if not pickles:
                raise CheckpointError(f"{path}: not a TorchScript archive (no data.pkl)")
            prefix = pickles[0].split("/")[0]
            root = _ArchiveUnpickler(archive, prefix, archive.read(pickles[0])).load()
    except (zipfile.BadZipFile, OSError, pickle.UnpicklingError, ValueError, KeyError, EOFError) as e:
        raise CheckpointError(f"{path}: cannot read CLIP weights: {e}") from e
    out: dict[str, torch.Tensor] = {}
    _flatten(root, "", out)
    return out


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.endswith("/code/__torch__.py") or "/code/" in n for n in archive.namelist())


def read_clip_weights(path: str | Path, allow_unsafe: bool = False) -> dict[str, torch.Tensor]:
    """OpenAI CLIP weights from a TorchScript ``.pt`` (as released), a pickled state dict or ``.safetensors``."""
    path = Path(path)
    if path.suffix.lower() != ".safetensors" and _is_torchscript(path):
        return read_torchscript_weights(path)
    return unwrap(read_checkpoint(path, allow_unsafe=allow_unsafe))


def unwrap(data: Any, key: str = "state_dict") -> dict[str, Any]:
    """The weights of a loaded file: ``data[key]`` when the file wraps them (BLIP's ``model``), else ``data``."""
    if isinstance(data, dict) and isinstance(data.get(key), dict):
        return data[key]
    if not isinstance(data, dict):
        raise CheckpointError(f"expected a dict of weights, found {type(data).__name__}")
    return data


def read_blip_weights(path: str | Path, allow_unsafe: bool = False) -> dict[str, torch.Tensor]:
    """BLIP's ``.pth`` (weights under ``model``) or a ``.safetensors`` of the same keys.

    ``allow_unsafe`` (``--disable-safe-unpickle``) lifts the restricted unpickler, as for checkpoints."""
    return unwrap(read_checkpoint(path, allow_unsafe=allow_unsafe), "model")


def read_deepdanbooru_weights(path: str | Path, allow_unsafe: bool = False) -> dict[str, Any]:
    """The DeepDanbooru file: ``n_Conv_N.*`` tensors and the ``tags`` list."""
    return unwrap(read_checkpoint(path, allow_unsafe=allow_unsafe))
