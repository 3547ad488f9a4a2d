"""Samplers over DDPM timesteps (DDIM, DDIM CFG++, PLMS) in k-diffusion's calling convention.

Contract: ``fn(model, x, timesteps, extra_args=None, callback=None, disable=None, **knobs)``; ``timesteps`` is an
ascending integer tensor (A1111: 1, 1 + 1000 // steps, ...), ``model(x, t * ones(batch), **extra_args)`` returns
the noise prediction eps at timestep t and ``model.alphas_cumprod`` is the DDPM schedule. ``x`` starts as pure noise
(or, for img2img, x0 noised to the last timestep). Step i runs from timesteps[-1 - i] to timesteps[-2 - i], so
there are len(timesteps) - 1 model steps and the last one ends at timesteps[0], as in A1111 1.10.
"""
from __future__ import annotations

from typing import Any

import torch

from modules.sampling.sampler_math import Callback, Denoiser, NoiseSampler, default_noise_sampler, steps_range


def ddim_timesteps(steps: int, discretize: str = "uniform", total: int = 1000) -> torch.Tensor:
    """The timesteps for ``steps`` DDIM steps: A1111's uniform 1, 1 + total // steps, ... (clipped to total - 1), or
    LDM's "quad" spacing, quadratic from 0 to 0.8 * total (Song et al. 2021, DDIM, arXiv:2010.02502, appendix D)."""
    if discretize == "quad":
        import numpy as np

        spaced = ((np.linspace(0, np.sqrt(total * 0.8), steps)) ** 2).astype(int)
        return torch.clip(torch.asarray(spaced.tolist(), dtype=torch.long) + 1, 0, total - 1)
    # more steps than timesteps (img2img with "fixed steps" at a low denoising strength schedules steps / strength):
    # every timestep once, where A1111's stride total // steps is 0 and range() refuses it
    stride = max(total // steps, 1) if steps > 0 else total
    return torch.clip(torch.asarray(list(range(0, total, stride))) + 1, 0, total - 1)


def _schedule(model: Any, x: torch.Tensor, timesteps: torch.Tensor, eta: float):
    """alpha_bar at each timestep and at the one before it, sqrt(1 - alpha_bar) and the DDIM sigma for ``eta``."""
    alphas_cumprod = model.alphas_cumprod.to(x.device)
    timesteps = timesteps.to(alphas_cumprod.device)
    alphas = alphas_cumprod[timesteps]
    # float64 for the previous alpha_bar as in A1111 (not on mps, which has no float64)
    prev_dtype = torch.float32 if x.device.type == "mps" else torch.float64
    alphas_prev = alphas_cumprod[torch.nn.functional.pad(timesteps[:-1], pad=(1, 0))].to(prev_dtype)
    sqrt_one_minus_alphas = torch.sqrt(1 - alphas)
    # DDIM eq. 16: sigma_t = eta * sqrt((1 - a_prev) / (1 - a_t)) * sqrt(1 - a_t / a_prev)
    a_cpu, prev_cpu = alphas.detach().cpu().double(), alphas_prev.detach().cpu().double()
    sigmas = eta * torch.sqrt((1 - prev_cpu) / (1 - a_cpu) * (1 - a_cpu / prev_cpu))
    return alphas, alphas_prev, sqrt_one_minus_alphas, sigmas


def _per_image(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A scalar schedule value as a (batch, 1, 1, ...) tensor in x's dtype."""
    return x.new_full((x.shape[0],) + (1,) * (x.ndim - 1), float(value))


@torch.no_grad()
def _ddim_loop(model, x, timesteps, extra_args, callback, disable, eta, noise_sampler, guide_with_uncond: bool):
    alphas, alphas_prev, sqrt_one_minus_alphas, sigmas = _schedule(model, x, timesteps, eta)
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in steps_range(len(timesteps) - 1, disable):
        index = len(timesteps) - 1 - i
        e_t = model(x, timesteps[index].item() * s_in, **extra_args)
        direction = model.last_noise_uncond if guide_with_uncond else e_t

        a_t = _per_image(alphas[index], x)
        a_prev = _per_image(alphas_prev[index], x)
        sigma_t = _per_image(sigmas[index], x)
        sqrt_one_minus_at = _per_image(sqrt_one_minus_alphas[index], x)

        pred_x0 = (x - sqrt_one_minus_at * e_t) / a_t.sqrt()
        # >= 0 for eta <= 1; an eta above 1 asks for more fresh noise than the step has, and A1111's sqrt is NaN
        dir_xt = (1.0 - a_prev - sigma_t ** 2).clamp(min=0).sqrt() * direction
        noise = sigma_t * noise_sampler(timesteps[index], timesteps[index - 1])
        x = a_prev.sqrt() * pred_x0 + dir_xt + noise
        if callback is not None:
            callback({"x": x, "i": i, "sigma": 0, "sigma_hat": 0, "denoised": pred_x0})
    return x


def ddim(model: Denoiser, x: torch.Tensor, timesteps: torch.Tensor, extra_args: dict | None = None,
         callback: Callback = None, disable: bool | None = None, eta=0.0,
         noise_sampler: NoiseSampler | None = None):
    """DDIM: Song et al. (2021), "Denoising Diffusion Implicit Models", arXiv:2010.02502, eq. 12 (eta = 0 is the
    deterministic implicit sampler, eta = 1 matches DDPM's posterior noise)."""
    return _ddim_loop(model, x, timesteps, extra_args, callback, disable, eta, noise_sampler, guide_with_uncond=False)


def ddim_cfgpp(model: Denoiser, x: torch.Tensor, timesteps: torch.Tensor, extra_args: dict | None = None,
               callback: Callback = None, disable: bool | None = None, eta=0.0,
               noise_sampler: NoiseSampler | None = None):
    """DDIM with CFG++: Chung et al. (2024), "CFG++: Manifold-constrained Classifier Free Guidance for Diffusion
    Models", arXiv:2406.08070 — the guided eps gives x0, the unconditional eps the direction back to x_t; the CFG
    scale is divided by 12.5 so that the usual 0..12.5 maps onto CFG++'s 0..1."""
    model.cond_scale_miltiplier = 1 / 12.5
    model.need_last_noise_uncond = True
    return _ddim_loop(model, x, timesteps, extra_args, callback, disable, eta, noise_sampler, guide_with_uncond=True)


@torch.no_grad()
def plms(model: Denoiser, x: torch.Tensor, timesteps: torch.Tensor, extra_args: dict | None = None,
         callback: Callback = None, disable: bool | None = None):
    """PLMS / PNDM: Liu et al. (2022), "Pseudo Numerical Methods for Diffusion Models on Manifolds",
    arXiv:2202.09778 — a pseudo improved-Euler first step, then Adams-Bashforth on eps up to fourth order."""
    alphas, alphas_prev, sqrt_one_minus_alphas, _ = _schedule(model, x, timesteps, 0.0)
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    old_eps: list[torch.Tensor] = []

    def step(x, e_t, index):
        a_t = _per_image(alphas[index], x)
        a_prev = _per_image(alphas_prev[index], x)
        sqrt_one_minus_at = _per_image(sqrt_one_minus_alphas[index], x)
        pred_x0 = (x - sqrt_one_minus_at * e_t) / a_t.sqrt()
        dir_xt = (1.0 - a_prev).sqrt() * e_t
        return a_prev.sqrt() * pred_x0 + dir_xt, pred_x0

    for i in steps_range(len(timesteps) - 1, disable):
        index = len(timesteps) - 1 - i
        ts = timesteps[index].item() * s_in
        t_next = timesteps[max(index - 1, 0)].item() * s_in
        e_t = model(x, ts, **extra_args)
        if len(old_eps) == 0:
            x_prev, _ = step(x, e_t, index)
            e_t_next = model(x_prev, t_next, **extra_args)
            e_t_prime = (e_t + e_t_next) / 2
        elif len(old_eps) == 1:
            e_t_prime = (3 * e_t - old_eps[-1]) / 2
        elif len(old_eps) == 2:
            e_t_prime = (23 * e_t - 16 * old_eps[-1] + 5 * old_eps[-2]) / 12
        else:
            e_t_prime = (55 * e_t - 59 * old_eps[-1] + 37 * old_eps[-2] - 9 * old_eps[-3]) / 24
        x, pred_x0 = step(x, e_t_prime, index)
        old_eps.append(e_t)
        if len(old_eps) >= 4:
            old_eps.pop(0)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": 0, "sigma_hat": 0, "denoised": pred_x0})
    return x
