"""The settings the sampling layer reads, with A1111's defaults.

Samplers get the live options object (``shared.opts`` or any object with
attribute access) as an argument; :func:`setting` reads a key from it and falls
back to A1111's default when the object does not define it (a bare
``SimpleNamespace`` in a test, or an options store from before a key existed).
"""
from __future__ import annotations

from typing import Any

SAMPLING_DEFAULTS: dict[str, Any] = {
    # Sampler parameters
    "hide_samplers": [],
    "eta_ddim": 0.0,
    "eta_ancestral": 1.0,
    "ddim_discretize": "uniform",
    "s_churn": 0.0,
    "s_tmin": 0.0,
    "s_tmax": 0.0,
    "s_noise": 1.0,
    "sigma_min": 0.0,
    "sigma_max": 0.0,
    "rho": 0.0,
    "eta_noise_seed_delta": 0,
    "always_discard_next_to_last_sigma": False,
    "sgm_noise_multiplier": False,
    "uni_pc_variant": "bh1",
    "uni_pc_skip_type": "time_uniform",
    "uni_pc_order": 3,
    "uni_pc_lower_order_final": True,
    "sd_noise_schedule": "Default",
    "skip_early_cond": 0.0,
    "beta_dist_alpha": 0.6,
    "beta_dist_beta": 0.6,
    # Stable Diffusion / compatibility / optimizations
    "enable_quantization": False,
    "use_old_karras_scheduler_sigmas": False,
    "no_dpmpp_sde_batch_determinism": False,
    "use_downcasted_alpha_bar": False,
    "s_min_uncond": 0.0,
    "s_min_uncond_all": False,
    "pad_cond_uncond": False,
    "pad_cond_uncond_v0": False,
    "batch_cond_uncond": True,
    # img2img and previews
    "img2img_fix_steps": False,
    "img2img_extra_noise": 0.0,
    "live_preview_content": "Prompt",
}


def setting(opts: Any, key: str) -> Any:
    """``opts.<key>``, or A1111's default for it when ``opts`` is None or lacks the key."""
    if opts is not None:
        try:
            return getattr(opts, key)
        except AttributeError:
            pass
    if key not in SAMPLING_DEFAULTS:
        raise KeyError(f"unknown sampling setting {key!r}")
    value = SAMPLING_DEFAULTS[key]
    return list(value) if isinstance(value, list) else value
