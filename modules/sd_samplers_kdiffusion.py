"""A1111's ``modules.sd_samplers_kdiffusion`` (thin re-export of the sampling layer)."""
from __future__ import annotations

from typing import Any

from modules.sampling.functions import SAMPLER_EXTRA_PARAMS as sampler_extra_params  # noqa: F401
from modules.sampling.registry import samplers_data_k_diffusion, samplers_k_diffusion  # noqa: F401
from modules.sampling.schedulers import schedulers as _schedulers

k_diffusion_samplers_map = {x.name: x for x in samplers_data_k_diffusion}
k_diffusion_scheduler = {x.name: x.function for x in _schedulers}

_LAZY = {
    "KDiffusionSampler": ("modules.sampling.sampler_kdiffusion", "KDiffusionSampler"),
    "CFGDenoiserKDiffusion": ("modules.sampling.sampler_kdiffusion", "CFGDenoiserKDiffusion"),
    "CFGDenoiser": ("modules.sampling.cfg_denoiser", "CFGDenoiser"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    return getattr(importlib.import_module(module), attr)
