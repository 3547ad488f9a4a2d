"""Sampler functions by the names A1111's tables use (k-diffusion's ``sample_*`` names and the timestep samplers'),
resolved lazily so that listing samplers imports no torch."""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

SAMPLER_FUNCTIONS: dict[str, tuple[str, str]] = {
    "sample_euler": ("modules.sampling.samplers_karras", "sample_euler"),
    "sample_euler_ancestral": ("modules.sampling.samplers_karras", "sample_euler_ancestral"),
    "sample_heun": ("modules.sampling.samplers_karras", "sample_heun"),
    "sample_dpm_2": ("modules.sampling.samplers_karras", "sample_dpm_2"),
    "sample_dpm_2_ancestral": ("modules.sampling.samplers_karras", "sample_dpm_2_ancestral"),
    "sample_lms": ("modules.sampling.samplers_karras", "sample_lms"),
    "sample_dpm_fast": ("modules.sampling.samplers_dpm_solver", "sample_dpm_fast"),
    "sample_dpm_adaptive": ("modules.sampling.samplers_dpm_solver", "sample_dpm_adaptive"),
    "sample_dpmpp_2s_ancestral": ("modules.sampling.samplers_dpmpp", "sample_dpmpp_2s_ancestral"),
    "sample_dpmpp_sde": ("modules.sampling.samplers_dpmpp", "sample_dpmpp_sde"),
    "sample_dpmpp_2m": ("modules.sampling.samplers_dpmpp", "sample_dpmpp_2m"),
    "sample_dpmpp_2m_sde": ("modules.sampling.samplers_dpmpp", "sample_dpmpp_2m_sde"),
    "sample_dpmpp_3m_sde": ("modules.sampling.samplers_dpmpp", "sample_dpmpp_3m_sde"),
    "restart_sampler": ("modules.sampling.samplers_extra", "restart_sampler"),
    "sample_lcm": ("modules.sampling.samplers_extra", "sample_lcm"),
    "ddim": ("modules.sampling.samplers_timesteps", "ddim"),
    "ddim_cfgpp": ("modules.sampling.samplers_timesteps", "ddim_cfgpp"),
    "plms": ("modules.sampling.samplers_timesteps", "plms"),
    "unipc": ("modules.sampling.unipc", "unipc"),
}

SAMPLER_EXTRA_PARAMS: dict[str, list[str]] = {
    "sample_euler": ["s_churn", "s_tmin", "s_tmax", "s_noise"],
    "sample_heun": ["s_churn", "s_tmin", "s_tmax", "s_noise"],
    "sample_dpm_2": ["s_churn", "s_tmin", "s_tmax", "s_noise"],
    "sample_dpm_fast": ["s_noise"],
    "sample_dpm_2_ancestral": ["s_noise"],
    "sample_dpmpp_2s_ancestral": ["s_noise"],
    "sample_dpmpp_sde": ["s_noise"],
    "sample_dpmpp_2m_sde": ["s_noise"],
    "sample_dpmpp_3m_sde": ["s_noise"],
}
"""Which stochasticity settings each function takes from ``p`` / the settings (A1111's ``sampler_extra_params``)."""


def function_name(funcname: Any) -> str:
    """The table name of a sampler function given by name or as the function itself."""
    return funcname if isinstance(funcname, str) else getattr(funcname, "__name__", repr(funcname))


def _function_modules() -> dict[str, ModuleType]:
    # torch on first use: the sampler functions import torch, listing the samplers must not (API start path)
    from modules.sampling import samplers_dpm_solver, samplers_dpmpp, samplers_extra, samplers_karras, samplers_timesteps
    from modules.sampling import unipc

    return {module.__name__: module for module in (samplers_dpm_solver, samplers_dpmpp, samplers_extra,
                                                    samplers_karras, samplers_timesteps, unipc)}


def resolve_function(funcname: Any) -> Callable[..., Any]:
    """The sampler function for a table name (or the callable itself)."""
    if callable(funcname):
        return funcname
    try:
        module, attr = SAMPLER_FUNCTIONS[funcname]
    except KeyError:
        raise ValueError(f"unknown sampler function {funcname!r}") from None
    return getattr(_function_modules()[module], attr)
