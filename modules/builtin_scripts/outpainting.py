"""What the two outpainting scripts share: reading their arguments and sharing the new pixels between sides."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PIL import ImageDraw

from modules.core.limits import check_size
from modules.processing.errors import GenerationError

DIRECTIONS = ("left", "right", "up", "down")
"""Choices of the "Outpainting direction" checkbox group, in A1111's order."""

FILL_CHOICES = ("fill", "original", "latent noise", "latent nothing")
"""Choices of "Masked content" (their index is ``p.inpainting_fill``)."""


@dataclass
class Expansion:
    """Pixels added on each side and the canvas size (a multiple of 64 both ways)."""

    left: int
    right: int
    up: int
    down: int
    width: int
    height: int


def _error(message: str) -> Exception:
    return GenerationError(message)


def read_pixels(value: Any, title: str) -> int:
    """The "Pixels to expand" value as a positive int (the API may send floats or numeric strings)."""
    try:
        pixels = int(float(value))
    except (TypeError, ValueError):
        raise _error(f"{title}: pixels to expand must be a number, got {value!r}") from None
    if not 1 <= pixels <= 2048:
        raise _error(f"{title}: pixels to expand must be between 1 and 2048, got {pixels}")
    return pixels


def read_mask_blur(value: Any, title: str) -> int:
    """The "Mask blur" value as an int from 0 to 64 (the slider's range)."""
    try:
        blur = int(float(value))
    except (TypeError, ValueError):
        raise _error(f"{title}: mask blur must be a number, got {value!r}") from None
    if not 0 <= blur <= 64:
        raise _error(f"{title}: mask blur must be between 0 and 64, got {blur}")
    return blur


def read_directions(value: Any, title: str) -> list[str]:
    """The checked directions; a single name is accepted as a one-item list."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise _error(f"{title}: outpainting direction must be a list of {', '.join(DIRECTIONS)}, got {value!r}")
    unknown = [x for x in value if x not in DIRECTIONS]
    if unknown:
        raise _error(f"{title}: unknown outpainting direction {unknown[0]!r}; choices: {', '.join(DIRECTIONS)}")
    return list(value)


def read_fill(value: Any, title: str) -> int:
    """"Masked content" as ``p.inpainting_fill``: the radio's index, or its label (what the API's defaults hold)."""
    if isinstance(value, str) and value in FILL_CHOICES:
        return FILL_CHOICES.index(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and int(value) == value \
            and 0 <= int(value) < len(FILL_CHOICES):
        return int(value)
    raise _error(f"{title}: masked content must be one of {', '.join(FILL_CHOICES)} or its index 0-3, got {value!r}")


def share_expansion(width: int, height: int, pixels: int, directions: list[str]) -> Expansion:
    """Grow each chosen side by ``pixels``, then round the total size up to a multiple of 64 and share the rounded
    growth between the two sides of each axis in proportion (A1111's rule)."""
    left = pixels if "left" in directions else 0
    right = pixels if "right" in directions else 0
    up = pixels if "up" in directions else 0
    down = pixels if "down" in directions else 0
    target_w = math.ceil((width + left + right) / 64) * 64
    target_h = math.ceil((height + up + down) / 64) * 64
    # refused before any canvas is allocated (422 through the API): the same limits as every picture
    check_size(target_w, target_h, key="script_args", what="the outpainted picture")
    if left > 0:
        left = left * (target_w - width) // (left + right)
    if right > 0:
        right = target_w - width - left
    if up > 0:
        up = up * (target_h - height) // (up + down)
    if down > 0:
        down = target_h - height - up
    return Expansion(left, right, up, down, target_w, target_h)


def draw_kept_area(mask: Any, box: tuple[int, int, int, int]) -> None:
    """Paint ``box`` (x0, y0, x1, y1, inclusive) black on ``mask``: the part kept from the picture.

    A box turned inside out by a wide margin on a small picture keeps nothing (Pillow refuses to draw it).
    """
    x0, y0, x1, y1 = box
    if x1 >= x0 and y1 >= y0:
        ImageDraw.Draw(mask).rectangle((x0, y0, x1, y1), fill="black")
