"""The one place that bounds the work one request may ask for: picture sizes and sampling steps.

Every picture a request brings (uploads, base64 and URL images of every route) and every picture
the server is asked to make (generation size, hires fix, img2img, the Extras resize, SD upscale,
outpainting) stays within :data:`MAX_SIDE` pixels a side and :data:`MAX_PIXELS` pixels in all.
A1111 has no such bound: a 100000x100 "Scale to" in Extras builds a 100000x100000 picture.

An untrusted picture is measured from its header before its pixels are decoded (PIL opens
lazily), so a small file that declares a huge size (a decompression bomb) costs nothing.
:func:`open_image` is the way to open one.
"""
from __future__ import annotations

import io
from typing import IO

from PIL import Image, UnidentifiedImageError

MAX_SIDE = 8192
"""Largest width or height, in pixels."""
MAX_PIXELS = 4096 * 4096
"""Largest picture, width x height (a 4096x4096 picture is allowed: four times a 2048x2048 one)."""
MAX_MEGAPIXELS = MAX_PIXELS / 1e6
""":data:`MAX_PIXELS` in millions of pixels (16.8)."""
MAX_WORK_PIXELS = 4 * MAX_PIXELS
"""A picture made on the way to a result: an upscaler model's pass may overshoot the target (a 4x model takes
2048x2048 to 8192x8192 for a 2x upscale) before it is resized down; a pass that would go past this is skipped."""
MAX_REQUEST_PIXELS = 64 * MAX_PIXELS
"""All the pictures one request brings or makes, together (100 batches of 8 at 1024x1024 fit)."""
MAX_STEPS = 500
"""More sampling steps than this is refused before any work (A1111's UI stops at 150; its API has no limit)."""

ALLOWED_FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "TIFF", "AVIF", "ICO", "TGA", "PPM")
"""Picture formats an untrusted file may have.  Left out on purpose: EPS (PIL runs Ghostscript on it) and the
rarely used formats whose decoders see little scrutiny."""


class ImageTooLargeError(ValueError):
    """A picture (given or asked for) is over the limits; ``key`` names the request field or control at fault."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class ImageDecodeError(ValueError):
    """Bytes that are not a picture of an allowed format; ``key`` names the field they came from."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def limits_text() -> str:
    """The limits in words, for error messages."""
    return f"{MAX_SIDE} px a side and {MAX_PIXELS:,} pixels in all ({MAX_MEGAPIXELS:.1f} megapixels)"


def within_limits(width: float, height: float) -> bool:
    """Whether a ``width`` x ``height`` picture is allowed (sizes below 1 are not checked here)."""
    return max(width, height) <= MAX_SIDE and width * height <= MAX_PIXELS


def check_size(width: float, height: float, key: str | None = None, what: str = "the picture") -> None:
    """Raise :class:`ImageTooLargeError` naming ``key`` when ``width`` x ``height`` is over the limits."""
    if not within_limits(width, height):
        raise ImageTooLargeError(f"{key + ': ' if key else ''}{what} would be {int(width)}x{int(height)}, larger than "
                                 f"the limit ({limits_text()})", key)


def open_image(data: bytes | IO[bytes], key: str | None = None) -> Image.Image:
    """An untrusted picture, decoded only after its declared size passed :func:`check_size`.

    Raises :class:`ImageDecodeError` for bytes that are not an allowed picture (also truncated or
    corrupt ones) and :class:`ImageTooLargeError` for one over the limits.  Only the first frame
    of an animated picture is decoded.
    """
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    label = f"{key}: " if key else ""
    Image.init()  # every plugin registered (once), so that each allowed format can be tried
    formats = [f for f in ALLOWED_FORMATS if f in Image.OPEN]
    try:
        image = Image.open(stream, formats=formats)
    except Image.DecompressionBombError as e:  # PIL's own, far higher, bound: still ours to refuse
        raise ImageTooLargeError(f"{label}the picture is larger than the limit ({limits_text()})", key) from e
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as e:
        raise ImageDecodeError(f"{label}invalid encoded image ({e})", key) from e
    check_size(*image.size, key=key, what="the picture")
    try:
        image.load()
    except Image.DecompressionBombError as e:
        raise ImageTooLargeError(f"{label}the picture is larger than the limit ({limits_text()})", key) from e
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as e:
        raise ImageDecodeError(f"{label}invalid encoded image ({e})", key) from e
    return image
