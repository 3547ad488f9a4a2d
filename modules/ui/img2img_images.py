"""What the img2img mode tabs hold -> the init picture and mask of the job (SPEC 7.3 "Modes from the UI tab index").

The Sketch / Inpaint / Inpaint sketch editors are gradio ``ImageEditor``s whose
value is ``{"background", "layers", "composite"}``: the strokes live in the
layers, so the mask is simply where a layer was painted (A1111 had to diff the
sketch against the original picture to find it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

MODE_IMG2IMG, MODE_SKETCH, MODE_INPAINT, MODE_INPAINT_SKETCH, MODE_INPAINT_UPLOAD, MODE_BATCH = range(6)


class Img2ImgInputError(ValueError):
    """The selected mode has no picture (or no mask) to work on."""


@dataclass
class Img2ImgSource:
    image: Image.Image | None
    mask: Image.Image | None


def _editor_part(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return value.get(key)
    return value if key in ("background", "composite") else None


def painted_mask(value: Any) -> Image.Image | None:
    """White where any layer of an editor value was painted (alpha > 0), black elsewhere; None when nothing was."""
    layers = [x for x in (_editor_part(value, "layers") or []) if isinstance(x, Image.Image)]
    if not layers:
        return None
    alpha = np.zeros((layers[0].height, layers[0].width), dtype=bool)
    for layer in layers:
        rgba = layer.convert("RGBA")
        if rgba.size != (alpha.shape[1], alpha.shape[0]):
            rgba = rgba.resize((alpha.shape[1], alpha.shape[0]))
        alpha |= np.asarray(rgba)[..., 3] > 0
    if not alpha.any():
        return None
    return Image.fromarray(alpha.astype(np.uint8) * 255, "L")


def fix_image(image: Image.Image | None) -> Image.Image | None:
    """Turn a picture as its EXIF says (A1111's ``images.fix_image``)."""
    if image is None:
        return None
    try:
        return ImageOps.exif_transpose(image)
    except (ValueError, TypeError, OSError):
        return image


def source_for_mode(mode: int, init_img: Any, sketch: Any, inpaint: Any, inpaint_sketch: Any, inpaint_upload: Any,
                    inpaint_upload_mask: Any, mask_blur: float, mask_alpha: float) -> Img2ImgSource:
    """The init picture and mask for tab ``mode`` (0 img2img .. 4 Inpaint upload; 5 batch has neither)."""
    image: Image.Image | None
    mask: Image.Image | None = None
    if mode == MODE_IMG2IMG:
        image = _editor_part(init_img, "background")
    elif mode == MODE_SKETCH:
        image = _editor_part(sketch, "composite") or _editor_part(sketch, "background")
        image = image.convert("RGB") if image is not None else None
    elif mode == MODE_INPAINT:
        image = _editor_part(inpaint, "background")
        mask = painted_mask(inpaint)
        if image is not None and mask is None:
            raise Img2ImgInputError("Inpaint: paint the area to change over the picture first")
    elif mode == MODE_INPAINT_SKETCH:
        original = _editor_part(inpaint_sketch, "background")
        painted = _editor_part(inpaint_sketch, "composite")
        mask = painted_mask(inpaint_sketch)
        image = original
        if original is not None and painted is not None and mask is not None:
            image, mask = _blend_sketch(original.convert("RGB"), painted.convert("RGB"), mask, mask_blur, mask_alpha)
        elif original is not None:
            raise Img2ImgInputError("Inpaint sketch: paint over the picture first")
    elif mode == MODE_INPAINT_UPLOAD:
        image = _editor_part(inpaint_upload, "background")
        mask = _editor_part(inpaint_upload_mask, "background")
        if image is not None and mask is None:
            raise Img2ImgInputError("Inpaint upload: upload a mask too")
    else:
        return Img2ImgSource(None, None)
    if image is None:
        raise Img2ImgInputError("No picture: drop or upload one into the img2img tab first")
    return Img2ImgSource(fix_image(image), fix_image(mask))


def _blend_sketch(original: Image.Image, painted: Image.Image, mask: Image.Image, mask_blur: float,
                  mask_alpha: float) -> tuple[Image.Image, Image.Image]:
    """A1111's inpaint-sketch rule: weaken the mask by "Mask transparency", soften the strokes into the original."""
    if painted.size != original.size:
        painted = painted.resize(original.size)
    mask = ImageEnhance.Brightness(mask).enhance(1 - float(mask_alpha or 0) / 100)
    blur = ImageFilter.GaussianBlur(float(mask_blur or 0))
    image = Image.composite(painted.filter(blur), original, mask.filter(blur))
    return image, mask


def scaled_size(image: Image.Image | None, scale_by: float) -> tuple[int, int]:
    """The "Resize by" size for ``image``, truncated to a multiple of 8 (the processing layer needs one)."""
    if image is None:
        raise Img2ImgInputError("Can't scale by because no image is selected")
    return max(8, int(image.width * scale_by) // 8 * 8), max(8, int(image.height * scale_by) // 8 * 8)
