"""Writing an embedding into a preview picture, the two ways A1111 writes it (and this web UI reads it).

1. A PNG text chunk ``sd-ti-embedding``: base64 of the embedding's JSON (tensors as
   ``{"TORCHTENSOR": nested lists}``).
2. In the pixels: the zlib-compressed JSON's low and high nibbles as two blocks, left and right of
   the picture with one black column between, XOR-scrambled by the fixed sequence of
   :func:`~modules.prompting.textual_inversion.image_data.lcg`; the blocks' high bits carry a dotted
   pattern shaded by the first vector, which the reader ignores (it keeps the low 4 bits).

The picture also gets A1111's caption: the name on top, checkpoint, hash and ``<n>v <steps>s`` below.
"""
from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from modules.prompting.textual_inversion.image_data import TEXT_CHUNK_KEY, xor_block

_CHANNELS = 3


def _encode_tensor(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return {"TORCHTENSOR": obj.detach().cpu().float().numpy().tolist()}
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def embedding_to_json(data: dict[str, Any]) -> str:
    """The embedding's data as A1111's JSON."""
    return json.dumps(data, default=_encode_tensor)


def embedding_to_b64(data: dict[str, Any]) -> str:
    """The value of the ``sd-ti-embedding`` text chunk."""
    return base64.b64encode(embedding_to_json(data).encode()).decode()


def _first_vector(data: dict[str, Any]) -> np.ndarray:
    vec = next(iter(data["string_to_param"].values()))
    return vec.detach().cpu().float().reshape(-1, vec.shape[-1])[0].numpy()


def _style_block(block: np.ndarray, shades: np.ndarray) -> np.ndarray:
    """Dots shaded by ``shades`` drawn into the high nibbles of ``block`` (decoration only)."""
    pattern = Image.new("RGB", (block.shape[1], block.shape[0]))
    draw = ImageDraw.Draw(pattern)
    i = 0
    for x in range(-6, pattern.size[0], 8):
        for row, y in enumerate(range(-6, pattern.size[1], 8)):
            offset = 4 if row % 2 == 0 else 0
            shade = int(shades[i % len(shades)])
            i += 1
            draw.ellipse((x + offset, y, x + 6 + offset, y + 6), fill=(shade, shade, shade))
    return block ^ (np.asarray(pattern, dtype=np.uint8) & 0xF0)


def _nibble_block(values: np.ndarray, height: int, size: int) -> np.ndarray:
    # np.resize repeats the data to fill the block; zlib ignores what follows its stream
    return np.resize(values, size).reshape((height, -1, _CHANNELS)).astype(np.uint8)


def insert_image_data_embed(image: Image.Image, data: dict[str, Any]) -> Image.Image:
    """``image`` widened with the two data blocks (see the module docstring)."""
    compressed = np.frombuffer(zlib.compress(embedding_to_json(data).encode(), level=9), np.uint8)
    h = image.size[1]
    size = compressed.shape[0] + (h - compressed.shape[0] % h)
    size = size + (h * _CHANNELS - size % (h * _CHANNELS))
    vector = _first_vector(data)[:1024]
    peak = float(np.max(np.abs(vector))) or 1.0
    shades = (np.abs(vector) / peak * 255).astype(np.uint8)
    low = xor_block(_style_block(_nibble_block(compressed & 0x0F, h, size), shades))
    high = xor_block(_style_block(_nibble_block(compressed >> 4, h, size), shades[::-1]))
    im_low, im_high = Image.fromarray(low, mode="RGB"), Image.fromarray(high, mode="RGB")
    result = Image.new("RGB", (image.size[0] + im_low.size[0] + im_high.size[0] + 2, h), (0, 0, 0))
    result.paste(im_low, (0, 0))
    result.paste(image.convert("RGB"), (im_low.size[0] + 1, 0))
    result.paste(im_high, (im_low.size[0] + 1 + image.size[0] + 1, 0))
    return result


def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1 has one bitmap size
        return ImageFont.load_default()


def caption_image_overlay(image: Image.Image, title: str, footer_left: str, footer_mid: str,
                          footer_right: str) -> Image.Image:
    """The preview with a darkened band on top holding ``title`` and one at the bottom holding the three footers."""
    image = image.convert("RGB").copy()
    w, h = image.size
    band = max(8, h // 8)
    pixels = np.asarray(image, dtype=np.float32)
    fade = np.ones((h, 1, 1), dtype=np.float32)
    fade[:band] = fade[-band:] = 0.35
    image = Image.fromarray((pixels * fade).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    font = _font(max(6, band // 2))
    small = _font(max(6, band // 3))
    draw.text((w // 2, band // 2), title, fill=(255, 255, 255), font=font, anchor="mm")
    y = h - band // 2
    draw.text((4, y), footer_left, fill=(255, 255, 255), font=small, anchor="lm")
    draw.text((w // 2, y), footer_mid, fill=(255, 255, 255), font=small, anchor="mm")
    draw.text((w - 4, y), footer_right, fill=(255, 255, 255), font=small, anchor="rm")
    return image


def embedding_preview_png(image: Image.Image, data: dict[str, Any], path: str, checkpoint_name: str,
                          checkpoint_hash: str | None, steps_done: int) -> str:
    """Save A1111's ``image_embeddings/<name>-<steps>.png``: captioned, data in pixels and in the text chunk."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(TEXT_CHUNK_KEY, embedding_to_b64(data))
    try:
        vectors: Any = next(iter(data["string_to_param"].values())).shape[0]
    except (KeyError, StopIteration, AttributeError):
        vectors = "?"
    captioned = caption_image_overlay(image, f"<{data.get('name', '???')}>", checkpoint_name,
                                      f"[{checkpoint_hash}]", f"{vectors}v {steps_done}s")
    insert_image_data_embed(captioned, data).save(path, "PNG", pnginfo=info)
    return path
