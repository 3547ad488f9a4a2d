"""img2img's resize modes (A1111's ``images.resize_image``) and small image helpers.

Mode 0 stretches to the target, 1 scales to cover then centre-crops, 2 scales
to fit, centres and fills the bars by stretching the image's edge rows/columns.
Mode 3 (latent upscale) is handled in latent space by the processing code; for
images it behaves as mode 0.  Enlarging goes through the upscaler named by
``upscaler_name`` (setting ``upscaler_for_img2img``), else Lanczos.
"""
from __future__ import annotations

from typing import Any, Callable

from PIL import Image, ImageOps

LANCZOS = Image.Resampling.LANCZOS

Upscale = Callable[[Image.Image, float], Image.Image]
"""Upscales an image by a factor (an upscaler's ``upscale`` bound to its model)."""


def _resize(im: Image.Image, w: int, h: int, upscale: Upscale | None) -> Image.Image:
    if upscale is None or im.mode == "L" or (w <= im.width and h <= im.height):
        return im.resize((w, h), resample=LANCZOS)
    scale = max(w / im.width, h / im.height)
    if scale > 1.0:
        im = upscale(im, scale)
    if im.width != w or im.height != h:
        im = im.resize((w, h), resample=LANCZOS)
    return im


def resize_image(resize_mode: int, im: Image.Image, width: int, height: int, upscale: Upscale | None = None) -> Image.Image:
    """Resize ``im`` to ``width`` x ``height`` with A1111's img2img resize mode."""
    if resize_mode in (0, 3):
        return _resize(im, width, height, upscale)
    ratio = width / height
    src_ratio = im.width / im.height
    if resize_mode == 1:
        src_w = width if ratio > src_ratio else im.width * height // im.height
        src_h = height if ratio <= src_ratio else im.height * width // im.width
        resized = _resize(im, src_w, src_h, upscale)
        res = Image.new("RGB" if im.mode != "L" else "L", (width, height))
        res.paste(resized, box=(width // 2 - src_w // 2, height // 2 - src_h // 2))
        return res
    if resize_mode == 2:
        src_w = width if ratio < src_ratio else im.width * height // im.height
        src_h = height if ratio >= src_ratio else im.height * width // im.width
        resized = _resize(im, src_w, src_h, upscale)
        res = Image.new("RGB" if im.mode != "L" else "L", (width, height))
        res.paste(resized, box=(width // 2 - src_w // 2, height // 2 - src_h // 2))
        if ratio < src_ratio:
            fill_height = height // 2 - src_h // 2
            if fill_height > 0:
                res.paste(resized.resize((width, fill_height), box=(0, 0, width, 0)), box=(0, 0))
                res.paste(resized.resize((width, fill_height), box=(0, resized.height, width, resized.height)),
                          box=(0, fill_height + src_h))
        elif ratio > src_ratio:
            fill_width = width // 2 - src_w // 2
            if fill_width > 0:
                res.paste(resized.resize((fill_width, height), box=(0, 0, 0, height)), box=(0, 0))
                res.paste(resized.resize((fill_width, height), box=(resized.width, 0, resized.width, height)),
                          box=(fill_width + src_w, 0))
        return res
    raise ValueError(f"unknown resize mode {resize_mode}")


def flatten(img: Image.Image, bgcolor: str) -> Image.Image:
    """Transparent pixels take ``bgcolor`` (setting ``img2img_background_color``); the result is RGB."""
    if img.mode == "RGBA" or (img.mode == "P" and "transparency" in img.info) or img.mode == "LA":
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, bgcolor)
        background.paste(img, mask=img)
        img = background
    return img.convert("RGB")


def apply_exif_orientation(img: Image.Image) -> Image.Image:
    """Rotate/flip as the EXIF orientation says (phone photos)."""
    try:
        return ImageOps.exif_transpose(img)
    except (ValueError, TypeError, OSError):  # broken EXIF: keep the pixels as stored
        return img


def upscaler_function(name: str | None, upscalers: Any) -> Upscale | None:
    """The ``upscale(image, scale)`` of the upscaler named ``name`` (None, "None" or unknown: Lanczos)."""
    if not name or name == "None" or upscalers is None:
        return None
    data = upscalers.find(name)
    if data is None or data.scaler is None:
        return None
    return lambda im, scale: data.scaler.upscale(im, scale, data.data_path)
