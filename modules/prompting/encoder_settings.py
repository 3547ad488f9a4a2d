"""The settings A1111's prompt path reads, with A1111's defaults for a settings object that lacks one."""
from __future__ import annotations

from typing import Any, Callable

SettingsProvider = Callable[[], Any]
"""Returns the live settings object (``lambda: services.opts``); options are read as attributes."""

DEFAULTS: dict[str, Any] = {
    "emphasis": "Original",
    "comma_padding_backtrack": 20,
    "CLIP_stop_at_last_layers": 1,
    "sdxl_clip_l_skip": False,
    "textual_inversion_add_hashes_to_infotext": True,
    "use_old_emphasis_implementation": False,
    "sdxl_crop_top": 0,
    "sdxl_crop_left": 0,
    "sdxl_refiner_low_aesthetic_score": 2.5,
    "sdxl_refiner_high_aesthetic_score": 6.0,
    "sd3_enable_t5": False,
}
"""A1111's defaults for the settings this path reads (used when the provider lacks one)."""


def setting(opts: Any, name: str) -> Any:
    """``opts.<name>``, or A1111's default when the settings object does not have it."""
    value = getattr(opts, name, None)
    return DEFAULTS[name] if value is None else value
