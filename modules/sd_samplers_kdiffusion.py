"""A1111's ``modules.sd_samplers_kdiffusion`` (thin re-export of the sampling layer)."""
from __future__ import annotations

from typing import Any

from modules.sampling.functions import SAMPLER_EXTRA_PARAMS as sampler_extra_params  # noqa: F401
from modules.sampling.registry import samplers_data_k_diffusion, samplers_k_diffusion  # noqa: F401
from modules.sampling.schedulers import schedulers as _schedulers

k_diffusion_samplers_map = {x.name: x for x in samplers_data_k_diffusion}
k_diffusion_scheduler = {x.name: x.function for x in _schedulers}


def __getattr__(name: str) -> Any:
    # torch-backed names load on first use so that importing this module stays light
    if name in ("KDiffusionSampler", "CFGDenoiserKDiffusion"):
        from modules.sampling import sampler_kdiffusion

        return getattr(sampler_kdiffusion, name)
    if name == "CFGDenoiser":
        from modules.sampling.cfg_denoiser import CFGDenoiser

        return CFGDenoiser
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
