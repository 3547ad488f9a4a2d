"""A1111's ``modules.rng``: noise from seeds, reading ``shared.opts`` and the model's device.

The code lives in :mod:`modules.processing.rng`, which takes the settings and
device as arguments; these wrappers keep A1111's signatures for extensions.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from modules.core.services import current_services
from modules.processing import rng as _rng
from modules.processing.rng import slerp  # noqa: F401  (A1111 name)


def _opts() -> Any:
    return current_services().opts


def _source() -> str:
    return getattr(_opts(), "randn_source", None) or "GPU"


def _device() -> torch.device:
    try:
        from modules import devices
    except ImportError:  # the device layer is not part of this build yet: everything runs on the CPU
        return torch.device("cpu")
    return getattr(devices, "device", None) or torch.device("cpu")


def randn(seed: int, shape: Sequence[int], generator: Any = None) -> torch.Tensor:
    """Normals for ``seed``; seeds the global generator (see :func:`modules.processing.rng.randn`)."""
    return _rng.randn(seed, shape, generator, source=_source(), device=_device())


def randn_local(seed: int, shape: Sequence[int]) -> torch.Tensor:
    """The first normals of ``seed`` without touching the global generator."""
    return _rng.randn_local(seed, shape, source=_source(), device=_device())


def randn_like(x: torch.Tensor) -> torch.Tensor:
    """Normals like ``x`` from the global generator."""
    return _rng.randn_like(x, source=_source())


def randn_without_seed(shape: Sequence[int], generator: Any = None) -> torch.Tensor:
    """Normals continuing ``generator`` or the global generator."""
    return _rng.randn_without_seed(shape, generator, source=_source(), device=_device())


def manual_seed(seed: int) -> None:
    """Seed the global generator of the current ``randn_source``."""
    _rng.manual_seed(seed, source=_source())


def create_generator(seed: int) -> Any:
    """A generator for ``seed`` of the current ``randn_source``."""
    return _rng.create_generator(seed, source=_source(), device=_device())


class ImageRNG(_rng.ImageRNG):
    """A1111's ``rng.ImageRNG(shape, seeds, subseeds, subseed_strength, seed_resize_from_h, seed_resize_from_w)``."""

    def __init__(self, shape: Sequence[int], seeds: Sequence[int], subseeds: Sequence[int] | None = None,
                 subseed_strength: float = 0.0, seed_resize_from_h: int = 0, seed_resize_from_w: int = 0) -> None:
        super().__init__(shape, seeds, subseeds, subseed_strength, seed_resize_from_h, seed_resize_from_w,
                         settings=_opts(), device=_device())
