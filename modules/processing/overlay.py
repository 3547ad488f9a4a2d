"""Putting a generated picture back into its source (inpainting "only masked", overlay of unmasked pixels)."""
from __future__ import annotations

from PIL import Image

from modules.processing.image_resize import resize_image


def apply_overlay(image: Image.Image, paste_loc: tuple[int, int, int, int] | None,
                  overlay: Image.Image | None) -> tuple[Image.Image, Image.Image]:
    """Paste ``image`` at ``paste_loc`` (x, y, w, h) into a copy of the overlay's canvas, then alpha-composite
    the overlay (the original's unmasked pixels) on top; returns (result, result before the overlay)."""
    if overlay is None:
        return image, image.copy()
    if paste_loc is not None:
        x, y, w, h = paste_loc
        base = Image.new("RGBA", (overlay.width, overlay.height))
        resized = resize_image(1, image, w, h)
        base.paste(resized, (x, y))
        image = base
    original = image.copy()
    image = image.convert("RGBA")
    image.alpha_composite(overlay)
    return image.convert("RGB"), original
