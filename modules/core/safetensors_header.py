"""Read a safetensors file's header (metadata, tensor names, dtypes and shapes) without its tensors.

Layout: 8 bytes little-endian header length ``n``, then ``n`` bytes of JSON
(``{"name": {"dtype": "F16", "shape": [...], "data_offsets": [begin, end]}, ...,
"__metadata__": {"key": "string"}}``), then the tensor data.  Files come from
the internet, so every length and offset is checked before it is trusted.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

MAX_HEADER_SIZE = 100 * 1024 * 1024
"""Headers longer than this are refused (real ones are a few hundred KiB at most)."""

METADATA_KEY = "__metadata__"
THUMBNAIL_KEY = "modelspec.thumbnail"

DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
    "U32": 4, "I32": 4, "F32": 4,
    "U64": 8, "I64": 8, "F64": 8,
}
"""Bytes per element of the safetensors dtypes (others are accepted without a size check)."""


class SafetensorsHeaderError(ValueError):
    """The file is not a readable safetensors file; ``filename`` names it."""

    def __init__(self, filename: str, problem: str) -> None:
        super().__init__(f"{filename} is not a valid safetensors file: {problem}")
        self.filename = filename
        self.problem = problem


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header describes it; ``data_offsets`` are relative to the end of the header."""

    dtype: str
    shape: tuple[int, ...]
    data_offsets: tuple[int, int]

    @property
    def numel(self) -> int:
        """Number of elements."""
        count = 1
        for dim in self.shape:
            count *= dim
        return count


def read_header(filename: str) -> tuple[dict[str, Any], int]:
    """The parsed JSON header and the size of the tensor data that follows it.

    Raises :class:`SafetensorsHeaderError` when the length is absurd or beyond
    the end of the file, or the JSON is not an object.
    """
    with open(filename, "rb") as file:
        file_size = os.fstat(file.fileno()).st_size
        prefix = file.read(8)
        if len(prefix) < 8:
            raise SafetensorsHeaderError(filename, f"file is only {file_size} bytes long")
        length = int.from_bytes(prefix, "little")
        if length < 2:
            raise SafetensorsHeaderError(filename, f"header length {length} is too short")
        if length > MAX_HEADER_SIZE:
            raise SafetensorsHeaderError(filename, f"header length {length} is larger than the {MAX_HEADER_SIZE}-byte limit")
        if length > file_size - 8:
            raise SafetensorsHeaderError(filename, f"header length {length} runs past the end of the {file_size}-byte file")

        raw = file.read(length)
    if len(raw) < length:
        raise SafetensorsHeaderError(filename, "file ends inside the header")
    if raw[0:2] not in (b'{"', b"{'"):
        raise SafetensorsHeaderError(filename, "header does not start with a JSON object")
    try:
        header = json.loads(raw)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
        raise SafetensorsHeaderError(filename, f"header is not valid JSON ({e})") from e
    if not isinstance(header, dict):
        raise SafetensorsHeaderError(filename, "header is not a JSON object")
    return header, file_size - 8 - length


def parse_metadata(header: dict[str, Any], filename: str = "<header>") -> dict[str, Any]:
    """``__metadata__`` of a parsed header, with values that hold JSON objects or arrays decoded.

    Trainers store things such as ``ss_tag_frequency`` as JSON text; tools
    want them as objects.  Text that only looks like JSON stays text.
    """
    raw = header.get(METADATA_KEY, {})
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SafetensorsHeaderError(filename, f"{METADATA_KEY} is not a JSON object")
    result: dict[str, Any] = {}
    for key, value in raw.items():
        result[key] = value
        if isinstance(value, str) and value[0:1] in ("{", "["):
            try:
                result[key] = json.loads(value)
            except ValueError:
                pass  # free text that happens to start with a bracket
    return result


def read_metadata(filename: str, keep_thumbnail: bool = False) -> dict[str, Any]:
    """The ``__metadata__`` of a safetensors file (see :func:`parse_metadata`).

    ``modelspec.thumbnail`` (a base64 image, often hundreds of KiB) is dropped
    unless ``keep_thumbnail``; use :func:`read_metadata_and_thumbnail` to get it apart.
    """
    metadata, thumbnail = read_metadata_and_thumbnail(filename)
    if keep_thumbnail and thumbnail is not None:
        metadata[THUMBNAIL_KEY] = thumbnail
    return metadata


def read_metadata_and_thumbnail(filename: str) -> tuple[dict[str, Any], Any]:
    """The metadata without ``modelspec.thumbnail``, and that thumbnail (or ``None``)."""
    header, _ = read_header(filename)
    metadata = parse_metadata(header, filename)
    thumbnail = metadata.pop(THUMBNAIL_KEY, None)
    return metadata, thumbnail


def read_tensor_table(filename: str) -> dict[str, TensorInfo]:
    """Tensor name -> :class:`TensorInfo` (dtype, shape, offsets), in header order.

    Every entry is checked: a shape of non-negative integers, offsets inside
    the file's data, and for known dtypes a byte size that matches the shape.
    Model detection reads this instead of loading gigabytes of weights.
    """
    header, data_size = read_header(filename)
    table: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        if name == METADATA_KEY:
            continue
        table[name] = _tensor_info(filename, name, entry, data_size)
    return table


def _tensor_info(filename: str, name: str, entry: Any, data_size: int) -> TensorInfo:
    def bad(problem: str) -> SafetensorsHeaderError:
        return SafetensorsHeaderError(filename, f"tensor {name!r}: {problem}")

    if not isinstance(entry, dict):
        raise bad("entry is not a JSON object")
    dtype = entry.get("dtype")
    shape = entry.get("shape")
    offsets = entry.get("data_offsets")
    if not isinstance(dtype, str):
        raise bad("missing dtype")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise bad(f"bad shape {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
        raise bad(f"bad data_offsets {offsets!r}")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise bad(f"data_offsets {offsets} lie outside the {data_size} bytes of tensor data")
    info = TensorInfo(dtype=dtype, shape=tuple(shape), data_offsets=(begin, end))
    element_size = DTYPE_SIZES.get(dtype)
    if element_size is not None and info.numel * element_size != end - begin:
        raise bad(f"{dtype} shape {list(shape)} needs {info.numel * element_size} bytes, offsets give {end - begin}")
    return info
