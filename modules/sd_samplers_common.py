"""A1111's ``modules.sd_samplers_common`` names for the sampling layer (thin re-export)."""
from __future__ import annotations

from typing import Any

from modules.core.services import current_services
from modules.sampling.environment import InterruptedException  # noqa: F401
from modules.sampling.registry import SamplerData, SamplerDataTuple, find_sampler_config  # noqa: F401


def setup_img2img_steps(p: Any, steps: int | None = None) -> tuple[int, int]:
    """A1111's ``setup_img2img_steps(p, steps)`` with the running app's settings."""
    from modules.sampling.sampler_base import setup_img2img_steps as _setup

    return _setup(p, current_services().opts, steps)


def is_sampler_using_eta_noise_seed_delta(p: Any) -> bool:
    """Whether ENSD applies to ``p``'s sampler (it uses fresh noise and its eta is not 0)."""
    from modules.sampling.sampler_base import uses_eta_noise_seed_delta

    eta = p.eta
    if eta is None and getattr(p, "sampler", None) is not None:
        eta = p.sampler.eta
    return uses_eta_noise_seed_delta(find_sampler_config(p.sampler_name), eta)


def __getattr__(name: str) -> Any:
    # torch-backed names load on first use so that importing this module stays light
    if name == "Sampler":
        from modules.sampling.sampler_base import Sampler

        return Sampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
