"""Small formulas every sampler shares (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
Generative Models", arXiv:2206.00364): the ODE derivative, the ancestral split of a step, broadcasting helpers."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

NoiseSampler = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``noise_sampler(sigma, sigma_next) -> Tensor`` shaped like the latent: the noise added on that step."""

Denoiser = Callable[..., torch.Tensor]
"""``model(x, sigma_or_timestep, **extra_args) -> Tensor``: what a sampler function calls each step."""

Callback = Callable[[dict[str, Any]], None] | None
"""Gets ``{"x", "i", "sigma", "sigma_hat", "denoised"}`` once per step."""


def append_zero(x: torch.Tensor) -> torch.Tensor:
    """``x`` with a trailing 0 (a schedule ends at sigma = 0)."""
    return torch.cat([x, x.new_zeros([1])])


def append_dims(x: torch.Tensor, target_dims: int) -> torch.Tensor:
    """``x`` with singleton dimensions added at the end until it has ``target_dims`` dimensions."""
    missing = target_dims - x.ndim
    if missing < 0:
        raise ValueError(f"input has {x.ndim} dims but target_dims is {target_dims}, which is less")
    return x[(...,) + (None,) * missing]


def to_d(x: torch.Tensor, sigma: torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
    """The probability-flow ODE derivative dx/dsigma = (x - D(x; sigma)) / sigma (Karras et al. 2022, eq. 3).

    0 where sigma is 0: a step that starts at sigma 0 (a schedule whose tiny ``sigma_min`` underflowed to 0 before
    its final 0) has zero length, and (x - D) / 0 would turn its ``x + d * 0`` into NaN where k-diffusion gives NaN.
    """
    sigma = append_dims(sigma, x.ndim)
    d = (x - denoised) / sigma
    return torch.where(sigma == 0, torch.zeros_like(d), d)


def get_ancestral_step(sigma_from, sigma_to, eta: float = 1.0):
    """Split a step sigma_from -> sigma_to into a deterministic step to ``sigma_down`` plus fresh noise ``sigma_up``.

    sigma_up^2 + sigma_down^2 = sigma_to^2; eta = 1 gives the DDPM posterior's noise level, eta = 0 a plain ODE step.
    """
    if not eta or sigma_from == 0:
        # from sigma 0 the only step is the zero-length one to 0 (k-diffusion divides 0 by 0 here)
        return sigma_to, 0.0
    sigma_up = min(sigma_to, eta * (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5)
    sigma_down = (sigma_to ** 2 - sigma_up ** 2) ** 0.5
    return sigma_down, sigma_up


def default_noise_sampler(x: torch.Tensor) -> NoiseSampler:
    """Fresh standard normal noise shaped like ``x`` from torch's global generator (k-diffusion's default)."""
    return lambda sigma, sigma_next: torch.randn_like(x)


def steps_range(n: int, disable: bool | None) -> Iterable[int]:
    """``range(n)`` with a console progress bar unless ``disable`` (k-diffusion's ``trange``)."""
    if disable is None or disable:
        return range(n)
    from tqdm.auto import trange

    return trange(n)
