"""Denoiser wrappers: turn an LDM-style network (``inner.apply_model(x, t, cond)`` predicting eps or v at integer
DDPM timesteps) into a Karras-style denoiser ``D(x, sigma) -> x0`` that the k-diffusion samplers call, or into a
timestep-indexed eps predictor for DDIM / PLMS / UniPC.

The DDPM forward process x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps is rewritten as the variance-exploding
x = x0 + sigma eps with sigma_t = sqrt((1 - a_t) / a_t) and input scaling c_in = 1 / sqrt(sigma^2 + 1)
(Karras et al. 2022, arXiv:2206.00364, Table 1, "VP" column).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from modules.sampling.sampler_math import append_dims, append_zero


class DiscreteSchedule(nn.Module):
    """A table of sigmas (ascending, one per DDPM timestep) with conversions between sigma and a fractional
    timestep, interpolating linearly in log sigma."""

    def __init__(self, sigmas: torch.Tensor, quantize: bool) -> None:
        super().__init__()
        self.register_buffer("sigmas", sigmas)
        self.register_buffer("log_sigmas", sigmas.log())
        self.quantize = quantize

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> torch.Tensor:
        return self.sigmas[-1]

    def get_sigmas(self, n: int | None = None) -> torch.Tensor:
        """n sigmas at timesteps evenly spaced from the last to 0, then 0 (all timesteps when n is None)."""
        if n is None:
            return append_zero(self.sigmas.flip(0))
        t_max = len(self.sigmas) - 1
        t = torch.linspace(t_max, 0, n, device=self.sigmas.device)
        return append_zero(self.t_to_sigma(t))

    def sigma_to_discrete_timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """The timestep whose sigma is nearest in log space."""
        log_sigma = sigma.log()
        dists = log_sigma.to(self.log_sigmas.device) - self.log_sigmas[:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape)

    def sigma_to_t(self, sigma: torch.Tensor, quantize: bool | None = None) -> torch.Tensor:
        """Fractional timestep of ``sigma`` (nearest integer one with ``quantize``; clamped to the table)."""
        quantize = self.quantize if quantize is None else quantize
        if quantize:
            return self.sigma_to_discrete_timestep(sigma)
        log_sigma = sigma.log()
        dists = log_sigma.to(self.log_sigmas.device) - self.log_sigmas[:, None]
        # the last table entry at or below log_sigma; cumsum+argmax finds it without assuming a sorted search
        low_idx = dists.ge(0).cumsum(dim=0).argmax(dim=0).clamp(max=self.log_sigmas.shape[0] - 2)
        high_idx = low_idx + 1
        low, high = self.log_sigmas[low_idx], self.log_sigmas[high_idx]
        # two equal table entries (a schedule rounded to fp16) make a 0-wide segment: its weight is 0, not 0 / 0
        w = torch.where(low == high, torch.zeros_like(low), (low - log_sigma) / (low - high)).clamp(0, 1)
        t = (1 - w) * low_idx + w * high_idx
        return t.view(sigma.shape)

    def t_to_sigma(self, t: torch.Tensor) -> torch.Tensor:
        """Sigma at a fractional timestep, interpolating log sigma between the neighbouring integers."""
        t = t.float()
        low_idx = t.floor().long()
        high_idx = t.ceil().long()
        w = t.frac()
        log_sigma = (1 - w) * self.log_sigmas[low_idx] + w * self.log_sigmas[high_idx]
        return log_sigma.exp()


def sigmas_from_alphas_cumprod(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t), computed in the dtype of ``alphas_cumprod``.

    In fp16 (``use_downcasted_alpha_bar``) with ``Zero Terminal SNR`` the last alphas are ~1e-7 and the quotient
    overflows fp16 before the square root brings it back in range: A1111's sigmas there are inf, and so is every
    picture's starting noise. Those entries alone are computed in float32 (the sigma itself fits in fp16, ~4096).
    """
    sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
    overflowed = torch.isinf(sigmas) & (alphas_cumprod > 0)
    if overflowed.any():
        wide = alphas_cumprod.float()
        sigmas = torch.where(overflowed, (((1 - wide) / wide) ** 0.5).to(sigmas.dtype), sigmas)
    return sigmas


class DiscreteEpsDenoiser(DiscreteSchedule):
    """D(x, sigma) = x - sigma * eps(x / sqrt(sigma^2 + 1), t(sigma)) for an eps-predicting network (Ho et al. 2020)."""

    def __init__(self, model: Any, alphas_cumprod: torch.Tensor, quantize: bool) -> None:
        super().__init__(sigmas_from_alphas_cumprod(alphas_cumprod), quantize)
        self.inner_model = model
        self.sigma_data = 1.0

    def get_scalings(self, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c_out = -sigma
        c_in = 1 / (sigma ** 2 + self.sigma_data ** 2) ** 0.5
        return c_out, c_in

    def get_eps(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.inner_model.apply_model(*args, **kwargs)

    def forward(self, input: torch.Tensor, sigma: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        c_out, c_in = [append_dims(x, input.ndim) for x in self.get_scalings(sigma)]
        eps = self.get_eps(input * c_in, self.sigma_to_t(sigma), **kwargs)
        return input + eps * c_out


class DiscreteVDenoiser(DiscreteSchedule):
    """D(x, sigma) = c_skip x + c_out v(c_in x, t(sigma)) for a v-predicting network (Salimans & Ho 2022,
    "Progressive Distillation", arXiv:2202.00512, appendix D)."""

    def __init__(self, model: Any, alphas_cumprod: torch.Tensor, quantize: bool) -> None:
        super().__init__(sigmas_from_alphas_cumprod(alphas_cumprod), quantize)
        self.inner_model = model
        self.sigma_data = 1.0

    def get_scalings(self, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c_skip = self.sigma_data ** 2 / (sigma ** 2 + self.sigma_data ** 2)
        c_out = -sigma * self.sigma_data / (sigma ** 2 + self.sigma_data ** 2) ** 0.5
        c_in = 1 / (sigma ** 2 + self.sigma_data ** 2) ** 0.5
        return c_skip, c_out, c_in

    def get_v(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.inner_model.apply_model(*args, **kwargs)

    def forward(self, input: torch.Tensor, sigma: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        c_skip, c_out, c_in = [append_dims(x, input.ndim) for x in self.get_scalings(sigma)]
        return self.get_v(input * c_in, self.sigma_to_t(sigma), **kwargs) * c_out + input * c_skip


class DiscreteFlowDenoiser(DiscreteSchedule):
    """D(x, sigma) for a rectified-flow model (SD3, Esser et al. 2024, arXiv:2403.03206) on its discrete sigma table.

    x_sigma = (1 - sigma) x0 + sigma noise, and the model's ``apply_model(x, sigma)`` already returns x0
    (A1111's ``SD3Denoiser``): sigma is passed through, not a DDPM timestep.
    """

    def __init__(self, model: Any, sigmas: torch.Tensor, quantize: bool) -> None:
        super().__init__(sigmas, quantize)
        self.inner_model = model

    def forward(self, input: torch.Tensor, sigma: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return self.inner_model.apply_model(input, sigma, **kwargs)


def make_kdiffusion_denoiser(model: Any, alphas_cumprod: torch.Tensor | None = None,
                             quantize: bool = False) -> DiscreteSchedule:
    """The k-diffusion wrapper for ``model`` (v-prediction when ``model.parameterization == "v"``), with the schedule
    ``alphas_cumprod`` (default: the model's own)."""
    if getattr(model, "flow_shift", None) is not None:
        # a flow model's schedule is its own sigma table; the DDPM overrides (downcast alphas, zero terminal SNR)
        # do not apply, as in A1111
        return DiscreteFlowDenoiser(model, model.flow_sigmas, quantize)
    alphas = model.alphas_cumprod if alphas_cumprod is None else alphas_cumprod
    if getattr(model, "parameterization", "eps") == "v":
        return DiscreteVDenoiser(model, alphas, quantize)
    return DiscreteEpsDenoiser(model, alphas, quantize)


class LCMDenoiser(DiscreteEpsDenoiser):
    """The latent consistency model's denoiser (Luo et al. 2023, arXiv:2310.04378): a 50-timestep skipping schedule
    and the consistency boundary scalings c_skip(t), c_out(t) with sigma_data = 0.5 and t scaled by 10."""

    ORIGINAL_TIMESTEPS = 50

    def __init__(self, model: Any, alphas_cumprod: torch.Tensor | None = None) -> None:
        alphas = model.alphas_cumprod if alphas_cumprod is None else alphas_cumprod
        timesteps = len(alphas)
        original = self.ORIGINAL_TIMESTEPS
        skip_steps = timesteps // original
        picked = torch.zeros(original, dtype=torch.float32, device=alphas.device)
        for x in range(original):
            picked[original - 1 - x] = alphas[timesteps - 1 - x * skip_steps]
        super().__init__(model, picked, quantize=False)
        self.skip_steps = skip_steps

    def get_sigmas(self, n: int | None = None) -> torch.Tensor:
        if n is None:
            return append_zero(self.sigmas.flip(0))
        start = self.sigma_to_t(self.sigma_max)
        end = self.sigma_to_t(self.sigma_min)
        t = torch.linspace(start, end, n, device=self.sigmas.device)
        return append_zero(self.t_to_sigma(t))

    def sigma_to_t(self, sigma: torch.Tensor, quantize: bool | None = None) -> torch.Tensor:
        """The DDPM timestep (0..999) of the nearest of the 50 LCM sigmas."""
        log_sigma = sigma.log()
        dists = log_sigma - self.log_sigmas[:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape) * self.skip_steps + (self.skip_steps - 1)

    def t_to_sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        t = ((timestep - (self.skip_steps - 1)) / self.skip_steps).float()
        t = torch.clamp(t, min=0, max=(len(self.sigmas) - 1))
        return super().t_to_sigma(t)

    def get_scaled_out(self, sigma: torch.Tensor, output: torch.Tensor, input: torch.Tensor) -> torch.Tensor:
        sigma_data = 0.5
        scaled_timestep = append_dims(self.sigma_to_t(sigma), output.ndim) * 10.0
        c_skip = sigma_data ** 2 / (scaled_timestep ** 2 + sigma_data ** 2)
        c_out = scaled_timestep / (scaled_timestep ** 2 + sigma_data ** 2) ** 0.5
        return c_out * output + c_skip * input

    def forward(self, input: torch.Tensor, sigma: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        c_out, c_in = [append_dims(x, input.ndim) for x in self.get_scalings(sigma)]
        eps = self.get_eps(input * c_in, self.sigma_to_t(sigma), **kwargs)
        return self.get_scaled_out(sigma, input + eps * c_out, input)


class TimestepsEpsDenoiser(nn.Module):
    """eps(x_t, t) at DDPM timesteps for DDIM / PLMS / UniPC, from an eps-predicting network."""

    def __init__(self, model: Any, alphas_cumprod: torch.Tensor | None = None) -> None:
        super().__init__()
        self.inner_model = model
        self.alphas_cumprod = model.alphas_cumprod if alphas_cumprod is None else alphas_cumprod

    def forward(self, input: torch.Tensor, timesteps: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return self.inner_model.apply_model(input, timesteps, **kwargs)


class TimestepsVDenoiser(TimestepsEpsDenoiser):
    """eps(x_t, t) from a v-predicting network: eps = sqrt(a_t) v + sqrt(1 - a_t) x_t (Salimans & Ho 2022)."""

    def predict_eps_from_z_and_v(self, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        a_t = self.alphas_cumprod.to(x_t.device)[t.to(torch.int)]
        return append_dims(a_t.sqrt(), x_t.ndim) * v + append_dims((1 - a_t).sqrt(), x_t.ndim) * x_t

    def forward(self, input: torch.Tensor, timesteps: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        v = self.inner_model.apply_model(input, timesteps, **kwargs)
        return self.predict_eps_from_z_and_v(input, timesteps, v)


def make_timesteps_denoiser(model: Any, alphas_cumprod: torch.Tensor | None = None) -> TimestepsEpsDenoiser:
    """The timestep-indexed eps predictor for ``model`` (converting v-prediction when needed)."""
    if getattr(model, "parameterization", "eps") == "v":
        return TimestepsVDenoiser(model, alphas_cumprod)
    return TimestepsEpsDenoiser(model, alphas_cumprod)
