"""A1111's ``modules.rng_philox``: the ``NV`` noise source (code in :mod:`modules.processing.rng_philox`)."""
from __future__ import annotations

from modules.processing.rng_philox import (  # noqa: F401  (A1111 names)
    PHILOX_KEY_INCREMENTS as philox_w,
    PHILOX_MULTIPLIERS as philox_m,
    Generator,
    box_muller,
    philox4x32,
)

__all__ = ["Generator", "box_muller", "philox4x32", "philox_m", "philox_w"]
