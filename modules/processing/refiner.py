"""Switching to the refiner checkpoint part-way through sampling (SPEC 7.6).

The switch point is a fraction of timestep progress computed from the current
sigma (``(999 - t) / 1000``), or of sampling steps with setting
``refiner_switch_by_sample_steps``.  At the switch the refiner's weights are
loaded (without becoming setting ``sd_model_checkpoint``), conds are computed
again for it and sampling goes on with the same latent.
"""
from __future__ import annotations

from typing import Any

import torch

from modules.processing.model_switch import reload_model_weights
from modules.processing.processing_base import GenerationError


def completed_ratio(cfg_denoiser: Any, sigma: Any) -> float:
    """How far sampling has come, as A1111 measures it for the refiner switch."""
    p = cfg_denoiser.p
    if p.services.opts.refiner_switch_by_sample_steps or sigma is None:
        p.extra_generation_params["Refiner switch by sampling steps"] = True
        return cfg_denoiser.step / max(cfg_denoiser.total_steps or 1, 1)
    sigmas = getattr(cfg_denoiser.inner_model, "sigmas", None)
    if sigmas is not None:
        timestep = int(torch.argmin(torch.abs(sigmas - torch.max(sigma).to(sigmas.device))))
    else:  # timestep samplers (DDIM, PLMS, UniPC) pass the timestep itself
        timestep = int(torch.max(sigma))
    return (999 - timestep) / 1000


def apply_refiner(cfg_denoiser: Any, sigma: Any = None) -> bool:
    """Switch to ``p.refiner_checkpoint_info`` when it is due; True when the switch happened."""
    p = getattr(cfg_denoiser, "p", None)
    info = getattr(p, "refiner_checkpoint_info", None)
    if p is None or info is None:
        return False
    services = p.services
    if services.sd_model is not None and services.sd_model.sd_checkpoint_info.filename == info.filename:
        return False
    switch_at = p.refiner_switch_at
    if switch_at is not None and completed_ratio(cfg_denoiser, sigma) < switch_at:
        return False
    if getattr(p, "enable_hr", False):
        mode = services.opts.hires_fix_refiner_pass
        if (mode == "first pass" and p.is_hr_pass) or (mode == "second pass" and not p.is_hr_pass):
            return False
        if mode != "second pass":
            p.extra_generation_params["Hires refiner"] = mode
    model = reload_model_weights(services, info)
    # after the load, so the title carries the hash computed by it
    p.extra_generation_params["Refiner"] = info.short_title
    p.extra_generation_params["Refiner switch at"] = switch_at
    p.sd_model = model
    p.setup_conds()
    cfg_denoiser.update_inner_model(model)
    return True


def resolve_refiner(p: Any) -> None:
    """``p.refiner_checkpoint`` -> ``p.refiner_checkpoint_info``; an unknown name is an error naming it."""
    name = p.refiner_checkpoint
    if name in (None, "", "None", "none"):
        p.refiner_checkpoint_info = None
        return
    p.refiner_checkpoint_info = p.services.checkpoints.get_closest_match(name)
    if p.refiner_checkpoint_info is None:
        raise GenerationError(f"Could not find checkpoint with name {name}")
