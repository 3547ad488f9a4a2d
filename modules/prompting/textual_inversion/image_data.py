"""Embeddings stored in images, in A1111's two formats.

1. A PNG text chunk ``sd-ti-embedding``: base64 of JSON, tensors written as
   ``{"TORCHTENSOR": nested lists}``.
2. Hidden in the pixels: the zlib-compressed JSON's bytes are split into low
   and high nibbles, laid out as two blocks (left and right of the picture,
   each separated from it by one black column), and scrambled by XOR with a
   fixed linear-congruential sequence.  The high nibbles of the blocks carry a
   decorative pattern, so only the low 4 bits of each channel hold data.
"""
from __future__ import annotations

import base64
import functools
import json
import zlib
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

TEXT_CHUNK_KEY = "sd-ti-embedding"
_CHANNELS = 3


def _decode_tensors(obj: dict) -> Any:
    if "TORCHTENSOR" in obj:
        import torch

        return torch.tensor(obj["TORCHTENSOR"])
    return obj


def embedding_from_json(text: str | bytes) -> Any:
    """The embedding data in A1111's JSON form, tensors rebuilt."""
    return json.loads(text, object_hook=_decode_tensors)


def embedding_from_b64(data: str | bytes) -> Any:
    """The data of an ``sd-ti-embedding`` text chunk."""
    return embedding_from_json(base64.b64decode(data))


def lcg(m: int = 2**32, a: int = 1664525, c: int = 1013904223, seed: int = 0) -> Iterator[int]:
    """The scrambling sequence: a linear congruential generator, each value taken modulo 255."""
    while True:
        seed = (a * seed + c) % m
        yield seed % 255


@functools.lru_cache(maxsize=8)
def _scramble_nibbles(count: int) -> "np.ndarray":
    import numpy as np

    generator = lcg()
    return (np.fromiter((next(generator) for _ in range(count)), dtype=np.int64, count=count) & 0x0F).astype(np.uint8)


def xor_block(block: "np.ndarray") -> "np.ndarray":
    """XOR every value with the low nibble of the sequence (its own inverse)."""
    import numpy as np

    mask = _scramble_nibbles(int(np.prod(block.shape))).reshape(block.shape)
    return np.bitwise_xor(block.astype(np.uint8), mask)


def crop_black(img: "np.ndarray", tol: int = 0) -> "np.ndarray":
    """The smallest box holding every pixel whose channels are all above ``tol``."""
    mask = (img > tol).all(2)
    cols, rows = mask.any(0), mask.any(1)
    col_start, col_end = cols.argmax(), mask.shape[1] - cols[::-1].argmax()
    row_start, row_end = rows.argmax(), mask.shape[0] - rows[::-1].argmax()
    return img[row_start:row_end, col_start:col_end]


def extract_image_data_embed(image: "Image.Image") -> Any:
    """The embedding hidden in the pixels, or ``None`` when the image has no data blocks.

    Raises ``zlib.error`` / ``ValueError`` when blocks are found but do not decode.
    """
    import numpy as np

    pixels = np.asarray(image.convert("RGB"), dtype=np.uint8).reshape(image.size[1], image.size[0], _CHANNELS)
    low_bits = crop_black(pixels) & 0x0F
    black_cols = np.where(np.sum(low_bits, axis=(0, 2)) == 0)[0]
    if black_cols.shape[0] < 2:
        return None
    lower = xor_block(low_bits[:, :black_cols.min(), :])
    upper = xor_block(low_bits[:, black_cols.max() + 1:, :])
    if lower.shape != upper.shape:
        raise ValueError("the two data blocks differ in size")
    data = ((upper << 4) | lower).flatten().tobytes()
    # zlib stops at the end of its stream, so the repeated padding after it is ignored.
    return embedding_from_json(zlib.decompress(data))


def read_image_embedding(image: "Image.Image") -> Any:
    """The embedding in an image: the text chunk if there is one, else the pixel data (``None`` if neither)."""
    text = getattr(image, "text", None)
    if isinstance(text, dict) and TEXT_CHUNK_KEY in text:
        return embedding_from_b64(text[TEXT_CHUNK_KEY])
    return extract_image_data_embed(image)
