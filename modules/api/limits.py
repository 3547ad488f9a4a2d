"""Checks on txt2img/img2img request values made before a job is queued (4xx naming the field).

The processing layer refuses bad sizes and step counts itself; these cover what would
otherwise fail deep inside a job (non-finite numbers, seeds torch cannot take, absurd
batch, blur or hires sizes) so a bad request never ties up or crashes the worker.
"""
from __future__ import annotations

import math
from typing import Any

from modules.api.errors import ApiError

MAX_BATCH_SIZE = 64
"""Pictures made at once (A1111's UI slider stops at 8)."""
MAX_BATCH_COUNT = 1000
"""Batches in one job (A1111's UI slider stops at 100)."""
MAX_MASK_BLUR = 512
SEED_LIMIT = 2 ** 63 - 2 ** 32
"""|seed| must stay below this: torch seeds are 64-bit and batch seeds count up from the first."""


def _side_limits() -> tuple[int, float]:
    from modules.processing import pipeline

    return pipeline.MAX_SIDE, pipeline.MAX_MEGAPIXELS


def _range(args: dict, name: str, low: float, high: float) -> None:
    value = args.get(name)
    if value is not None and not low <= value <= high:
        raise ApiError(422, f"{name} must be between {low:g} and {high:g}, got {value}", key=name)


def check(args: dict[str, Any], tabname: str) -> None:
    """Raise :class:`ApiError` for the first value of ``args`` (processing arguments) out of bounds."""
    for name, value in args.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ApiError(422, f"{name} must be a finite number, got {value}", key=name)
    max_side, max_megapixels = _side_limits()
    for name in ("seed", "subseed"):
        value = args.get(name)
        if isinstance(value, int) and abs(value) >= SEED_LIMIT:
            raise ApiError(422, f"{name} must be smaller than 2^63 in magnitude, got {value}", key=name)
    _range(args, "batch_size", 1, MAX_BATCH_SIZE)
    _range(args, "n_iter", 1, MAX_BATCH_COUNT)
    _range(args, "seed_resize_from_h", -1, max_side)
    _range(args, "seed_resize_from_w", -1, max_side)
    _range(args, "denoising_strength", 0, 1)
    _range(args, "refiner_switch_at", 0, 1)
    _range(args, "subseed_strength", 0, 1)
    if tabname == "txt2img":
        for name in ("firstphase_width", "firstphase_height", "hr_resize_x", "hr_resize_y"):
            _range(args, name, 0, max_side)
        from modules.processing.pipeline import MAX_STEPS

        _range(args, "hr_second_pass_steps", 0, MAX_STEPS)
        if args.get("enable_hr") and not args.get("hr_resize_x") and not args.get("hr_resize_y"):
            scale = args.get("hr_scale") or 0
            width, height = args.get("width") or 0, args.get("height") or 0
            if scale <= 0:
                raise ApiError(422, f"hr_scale must be positive, got {scale}", key="hr_scale")
            if max(width, height) * scale > max_side or width * height * scale * scale > max_megapixels * 1e6:
                raise ApiError(422, f"hr_scale {scale} makes {int(width * scale)}x{int(height * scale)}, larger than "
                                    f"the limit ({max_side} px a side, {max_megapixels:g} megapixels)", key="hr_scale")
    else:
        for name in ("mask_blur", "mask_blur_x", "mask_blur_y"):
            _range(args, name, 0, MAX_MASK_BLUR)
        _range(args, "inpaint_full_res_padding", 0, max_side)
        _range(args, "inpainting_mask_invert", 0, 1)
