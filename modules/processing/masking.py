"""Inpainting masks: binarising, blurring, the "only masked" crop region and the "fill" content mode."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter, ImageOps


def create_binary_mask(image: Image.Image, round: bool = True) -> Image.Image:
    """An ``L`` mask: the alpha channel of an RGBA image with real transparency, else its luminance.

    With ``round`` the mask becomes 0/255 (threshold 128), as A1111's ``mask_round``.
    """
    if image.mode == "RGBA" and image.getextrema()[-1] != (255, 255):
        mask = image.split()[-1].convert("L")
    else:
        mask = image.convert("L")
    if round:
        mask = mask.point(lambda x: 255 if x > 128 else 0)
    return mask


def _gaussian_kernel(sigma: float) -> np.ndarray:
    # A1111 sizes the kernel as 2 * int(2.5 * sigma + 0.5) + 1 (what it passes to OpenCV)
    size = 2 * int(2.5 * sigma + 0.5) + 1
    half = size // 2
    x = np.arange(-half, half + 1, dtype=np.float64)
    kernel = np.exp(-(x ** 2) / (2 * sigma * sigma))
    return kernel / kernel.sum()


def _blur_axis(arr: np.ndarray, sigma: float, axis: int) -> np.ndarray:
    kernel = _gaussian_kernel(sigma)
    half = len(kernel) // 2
    pad = [(0, 0)] * arr.ndim
    pad[axis] = (half, half)
    # reflect without repeating the edge pixel, like OpenCV's default border
    padded = np.pad(arr, pad, mode="reflect") if arr.shape[axis] > half else np.pad(arr, pad, mode="edge")
    out = np.zeros_like(arr, dtype=np.float64)
    length = arr.shape[axis]
    for i, weight in enumerate(kernel):
        out += weight * np.take(padded, range(i, i + length), axis=axis)
    return out


def blur_mask(mask: Image.Image, blur_x: float, blur_y: float) -> Image.Image:
    """Gaussian blur of the mask, separately in x and y (``mask_blur_x`` / ``mask_blur_y``)."""
    arr = np.asarray(mask, dtype=np.float64)
    if blur_x > 0:
        arr = _blur_axis(arr, blur_x, axis=1)
    if blur_y > 0:
        arr = _blur_axis(arr, blur_y, axis=0)
    return Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8), mode="L")


def get_crop_region(mask: Image.Image, pad: int = 0) -> tuple[int, int, int, int] | None:
    """The box ``(x1, y1, x2, y2)`` around the mask's non-zero pixels, grown by ``pad`` and clipped; None if empty."""
    box = mask.getbbox()
    if box is None:
        return None
    x1, y1, x2, y2 = box
    w, h = mask.size
    return max(x1 - pad, 0), max(y1 - pad, 0), min(x2 + pad, w), min(y2 + pad, h)


def expand_crop_region(crop_region: tuple[int, int, int, int], processing_width: int, processing_height: int,
                       image_width: int, image_height: int) -> tuple[int, int, int, int]:
    """Grow the box to the processing aspect ratio, keeping it inside the image (A1111's rule)."""
    x1, y1, x2, y2 = crop_region
    ratio_crop = (x2 - x1) / (y2 - y1)
    ratio_processing = processing_width / processing_height
    if ratio_crop > ratio_processing:
        desired_height = (x2 - x1) / ratio_processing
        diff = int(desired_height - (y2 - y1))
        y1 -= diff // 2
        y2 += diff - diff // 2
        if y2 >= image_height:
            shift = y2 - image_height
            y2 -= shift
            y1 -= shift
        if y1 < 0:
            y2 -= y1
            y1 = 0
        if y2 >= image_height:
            y2 = image_height
    else:
        desired_width = (y2 - y1) * ratio_processing
        diff = int(desired_width - (x2 - x1))
        x1 -= diff // 2
        x2 += diff - diff // 2
        if x2 >= image_width:
            shift = x2 - image_width
            x2 -= shift
            x1 -= shift
        if x1 < 0:
            x2 -= x1
            x1 = 0
        if x2 >= image_width:
            x2 = image_width
    return x1, y1, x2, y2


def fill(image: Image.Image, mask: Image.Image) -> Image.Image:
    """"Masked content: fill": the hole gets the surrounding colours, blurred in from large to small radii."""
    result = Image.new("RGBA", image.size)
    known = Image.new("RGBa", image.size)
    known.paste(image.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(mask.convert("L")))
    for radius, repeats in ((256, 1), (64, 1), (16, 2), (4, 4), (2, 2), (0, 1)):
        blurred = known.filter(ImageFilter.GaussianBlur(radius)).convert("RGBA")
        for _ in range(repeats):
            result.alpha_composite(blurred)
    return result.convert("RGB")
