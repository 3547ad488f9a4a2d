"""The loss a Stable Diffusion model trains on (LDM's ``LatentDiffusion.p_losses`` with SD's settings).

For latents ``x0``: a random timestep ``t`` per sample, noise ``n``, the noised latent
``sqrt(a_t) * x0 + sqrt(1 - a_t) * n``; the UNet's output is compared with ``n`` (eps models) or with
``v = sqrt(a_t) * n - sqrt(1 - a_t) * x0`` (v models) by mean squared error.  SD's configs keep the
log-variance at zero and the ELBO term off, so the loss is that mean (A1111's ``weighted_forward``
multiplies the squared error by a per-pixel weight first).
"""
from __future__ import annotations

from typing import Any

import torch


def noised(x0: torch.Tensor, noise: torch.Tensor, alphas_cumprod: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``q_sample``: the latent at timestep ``t`` for this noise."""
    a = alphas_cumprod.to(device=x0.device, dtype=torch.float32)[t].view(-1, 1, 1, 1)
    return (a.sqrt() * x0.float() + (1 - a).sqrt() * noise.float()).to(x0.dtype)


def target_for(parameterization: str, x0: torch.Tensor, noise: torch.Tensor, alphas_cumprod: torch.Tensor,
               t: torch.Tensor) -> torch.Tensor:
    """What the UNet should output: the noise (``eps``) or the velocity (``v``)."""
    if parameterization == "eps":
        return noise
    if parameterization == "v":
        a = alphas_cumprod.to(device=x0.device, dtype=torch.float32)[t].view(-1, 1, 1, 1)
        return (a.sqrt() * noise.float() - (1 - a).sqrt() * x0.float()).to(x0.dtype)
    raise ValueError(f"cannot train a model with parameterization {parameterization!r}")


def diffusion_loss(model: Any, x0: torch.Tensor, cond: Any, weight: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """One training loss value for latents ``x0`` under ``cond`` (a context tensor or a cond dict)."""
    alphas_cumprod = model.alphas_cumprod
    count = int(alphas_cumprod.shape[0])
    t = torch.randint(0, count, (x0.shape[0],), generator=generator, device="cpu").to(x0.device)
    noise = torch.randn(x0.shape, generator=generator, device="cpu", dtype=torch.float32).to(x0.device, x0.dtype)
    x_noisy = noised(x0, noise, alphas_cumprod, t)
    output = model.apply_model(x_noisy, t, cond)
    target = target_for(getattr(model, "parameterization", "eps"), x0, noise, alphas_cumprod, t)
    error = (output.float() - target.float()) ** 2
    if weight is not None:
        error = error * weight.to(error.device, error.dtype)
    return error.mean()
