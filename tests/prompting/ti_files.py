"""Writers for test embedding files in every format, including A1111's two image formats.

The image writers follow A1111's documented layout independently of the
reader under test: JSON with ``{"TORCHTENSOR": lists}``, base64 in a
``sd-ti-embedding`` PNG text chunk, or zlib-compressed, split into nibbles,
scrambled with the LCG (a=1664525, c=1013904223, m=2**32, value % 255, low 4
bits) and laid out left/right of the picture behind one black column each.
"""
from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import torch
from PIL import Image, PngImagePlugin


def to_json(data) -> str:
    def default(obj):
        if isinstance(obj, torch.Tensor):
            return {"TORCHTENSOR": obj.tolist()}
        raise TypeError(type(obj))
    return json.dumps(data, default=default)


def lcg_values(count: int) -> list[int]:
    values, seed = [], 0
    for _ in range(count):
        seed = (1664525 * seed + 1013904223) % 2**32
        values.append(seed % 255)
    return values


def save_png_with_text_chunk(path, data, size=(16, 16)):
    info = PngImagePlugin.PngInfo()
    info.add_text("sd-ti-embedding", base64.b64encode(to_json(data).encode()).decode())
    Image.new("RGB", size, (120, 130, 140)).save(path, pnginfo=info)


def hidden_data_image(data, picture: Image.Image) -> Image.Image:
    payload = np.frombuffer(zlib.compress(to_json(data).encode(), 9), np.uint8)
    h, channels = picture.size[1], 3
    size = payload.shape[0] + (h - payload.shape[0] % h)
    size += h * channels - size % (h * channels)
    blocks = []
    for nibbles in (payload & 0x0F, payload >> 4):
        block = np.resize(nibbles, size).reshape(h, -1, channels).astype(np.uint8)
        scramble = (np.array(lcg_values(block.size), dtype=np.int64) & 0x0F).astype(np.uint8).reshape(block.shape)
        # the high nibble is decoration in A1111 (a dot pattern); any non-zero value keeps pixels non-black
        blocks.append(Image.fromarray((block ^ scramble) | 0x50, mode="RGB"))
    low, high = blocks
    canvas = Image.new("RGB", (low.size[0] + 1 + picture.size[0] + 1 + high.size[0], h), (0, 0, 0))
    canvas.paste(low, (0, 0))
    canvas.paste(picture, (low.size[0] + 1, 0))
    canvas.paste(high, (low.size[0] + 1 + picture.size[0] + 1, 0))
    return canvas
