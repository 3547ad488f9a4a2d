"""Bounds on txt2img/img2img request values, checked before a job is queued (4xx naming the field).

One table per route gives every numeric field its ``(lowest, highest)`` value; the request models
show the same bounds in the OpenAPI schema (:mod:`modules.api.models`), and :func:`check` enforces
them on the values a job would get (after the infotext and the defaults were applied), so the
synchronous and the asynchronous routes refuse the same requests at once, with A1111's error body.
Picture sizes and step counts come from :mod:`modules.core.limits`, the one place every layer reads.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from modules.api.errors import ApiError
from modules.core.limits import MAX_REQUEST_PIXELS, MAX_SIDE, MAX_STEPS, limits_text, within_limits
from modules.prompting.limits import PromptLimitError, check_prompt_limits

MAX_BATCH_SIZE = 64
"""Pictures made at once (A1111's UI slider stops at 8)."""
MAX_BATCH_COUNT = 1000
"""Batches in one job (A1111's UI slider stops at 100)."""
MAX_MASK_BLUR = 512
MAX_CFG_SCALE = 100.0
"""A1111's UI stops at 30; far beyond, the guidance overflows and the picture is NaN."""
SEED_LIMIT = 2 ** 63 - 2 ** 32
"""|seed| must stay below this: torch seeds are 64-bit and batch seeds count up from the first."""

Bounds = tuple[float, float]

COMMON_BOUNDS: dict[str, Bounds] = {
    "seed": (1 - SEED_LIMIT, SEED_LIMIT - 1),
    "subseed": (1 - SEED_LIMIT, SEED_LIMIT - 1),
    "subseed_strength": (0, 1),
    "seed_resize_from_h": (-1, MAX_SIDE),
    "seed_resize_from_w": (-1, MAX_SIDE),
    "batch_size": (1, MAX_BATCH_SIZE),
    "n_iter": (1, MAX_BATCH_COUNT),
    "steps": (1, MAX_STEPS),
    "cfg_scale": (0, MAX_CFG_SCALE),
    "width": (8, MAX_SIDE),
    "height": (8, MAX_SIDE),
    "eta": (0, 10),
    "denoising_strength": (0, 1),
    # the sampler settings' own slider ranges, widened: beyond them the sampler only makes noise
    "s_min_uncond": (0, 100),
    "s_churn": (0, 100),
    "s_tmax": (0, 1000),
    "s_tmin": (0, 1000),
    "s_noise": (0, 10),
    "refiner_switch_at": (0, 1),
}
"""``field -> (lowest, highest)`` for the fields txt2img and img2img share."""

TXT2IMG_BOUNDS: dict[str, Bounds] = {
    **COMMON_BOUNDS,
    "firstphase_width": (0, MAX_SIDE),
    "firstphase_height": (0, MAX_SIDE),
    "hr_scale": (0, 16),
    "hr_second_pass_steps": (0, MAX_STEPS),
    "hr_resize_x": (0, MAX_SIDE),
    "hr_resize_y": (0, MAX_SIDE),
}

IMG2IMG_BOUNDS: dict[str, Bounds] = {
    **COMMON_BOUNDS,
    "resize_mode": (0, 3),
    "image_cfg_scale": (0, MAX_CFG_SCALE),
    "mask_blur_x": (0, MAX_MASK_BLUR),
    "mask_blur_y": (0, MAX_MASK_BLUR),
    "mask_blur": (0, MAX_MASK_BLUR),
    "inpainting_fill": (0, 3),
    "inpaint_full_res_padding": (0, MAX_SIDE),
    "inpainting_mask_invert": (0, 1),
    "initial_noise_multiplier": (0, 10),
}

PROMPT_FIELDS = ("prompt", "negative_prompt", "hr_prompt", "hr_negative_prompt")


def bounds_for(tabname: str) -> dict[str, Bounds]:
    """The bounds table of ``tabname`` (``txt2img`` or ``img2img``)."""
    return TXT2IMG_BOUNDS if tabname == "txt2img" else IMG2IMG_BOUNDS


def _range(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, (int, float)) and not low <= value <= high:
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        raise ApiError(422, f"{name} must be between {low:g} and {high:g}, got {shown}", key=name)


def _size(width: float, height: float, key: str, what: str) -> None:
    if not within_limits(width, height):
        raise ApiError(422, f"{what} {int(width)}x{int(height)} is larger than the limit ({limits_text()})", key=key)


def hires_target(width: int, height: int, hr_scale: float, hr_resize_x: int, hr_resize_y: int) -> tuple[int, int]:
    """The size the hires fix upscales to before cropping (the processing's rule: scale, or cover the resize)."""
    if not hr_resize_x and not hr_resize_y:
        return int(width * hr_scale), int(height * hr_scale)
    if not hr_resize_y:
        return hr_resize_x, hr_resize_x * height // max(width, 1)
    if not hr_resize_x:
        return hr_resize_y * width // max(height, 1), hr_resize_y
    if width / max(height, 1) < hr_resize_x / hr_resize_y:
        return hr_resize_x, hr_resize_x * height // max(width, 1)
    return hr_resize_y * width // max(height, 1), hr_resize_y


def _hires_size(args: dict[str, Any]) -> tuple[int, int]:
    width, height = args.get("width") or 0, args.get("height") or 0
    if args.get("firstphase_width") or args.get("firstphase_height"):
        width, height = args.get("firstphase_width") or 0, args.get("firstphase_height") or 0
    return hires_target(width, height, args.get("hr_scale") or 0, args.get("hr_resize_x") or 0,
                        args.get("hr_resize_y") or 0)


def _check_hires(args: dict[str, Any]) -> None:
    if not args.get("enable_hr"):
        return
    if args.get("denoising_strength") is None:
        raise ApiError(422, "denoising_strength is needed with enable_hr (the hires pass's strength, 0 to 1)",
                       key="denoising_strength")
    scale = args.get("hr_scale") or 0
    resize_x, resize_y = args.get("hr_resize_x") or 0, args.get("hr_resize_y") or 0
    if not resize_x and not resize_y and scale <= 0:
        raise ApiError(422, f"hr_scale must be positive, got {scale}", key="hr_scale")
    key = "hr_resize_x" if resize_x or resize_y else "hr_scale"
    _size(*_hires_size(args), key=key, what="the hires fix target")


def check(args: dict[str, Any], tabname: str) -> None:
    """Raise :class:`ApiError` for the first value of ``args`` (processing arguments) out of bounds."""
    for name, value in args.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ApiError(422, f"{name} must be a finite number, got {value}", key=name)
    for name, (low, high) in bounds_for(tabname).items():
        _range(name, args.get(name), low, high)
    width, height = args.get("width"), args.get("height")
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, int) and value % 8:
            raise ApiError(422, f"{name} must be a multiple of 8, got {value}", key=name)
    if isinstance(width, int) and isinstance(height, int):
        _size(width, height, key="width", what="the picture")
        if tabname == "txt2img":
            _check_hires(args)
            if args.get("enable_hr"):
                width, height = _hires_size(args)
        count = (args.get("batch_size") or 1) * (args.get("n_iter") or 1)
        if count * width * height > MAX_REQUEST_PIXELS:
            raise ApiError(422, f"n_iter: {count} pictures of {width}x{height} are more than "
                                f"{MAX_REQUEST_PIXELS:,} pixels in all", key="n_iter")


def check_prompts(args: dict[str, Any], apply_styles: Callable[[str, list[str], bool], str] | None = None) -> None:
    """Prompt texts within :mod:`modules.prompting.limits` (also with the request's ``styles`` applied).

    ``apply_styles(text, styles, negative)`` expands the styles; raises :class:`ApiError` (422) naming the field.
    """
    styles = [s for s in args.get("styles") or [] if isinstance(s, str)]
    try:
        for name in PROMPT_FIELDS:
            text = args.get(name)
            if not isinstance(text, str):
                continue
            check_prompt_limits(text, name)
            if styles and apply_styles is not None:
                check_prompt_limits(apply_styles(text, styles, "negative" in name), name)
    except PromptLimitError as e:
        raise ApiError(422, str(e), key=e.key) from e
