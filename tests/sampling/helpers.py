"""Shared pieces of the sampling tests: the k-diffusion oracle, analytic Gaussian models, fake processing objects."""
from __future__ import annotations

import importlib.util
import math
import sys
import types

import pytest
import torch

MU, STD = 0.7, 0.5  # the toy data distribution N(MU, STD^2) whose exact denoiser is known


def make_alphas_cumprod(linear_start: float = 0.00085, linear_end: float = 0.012, steps: int = 1000) -> torch.Tensor:
    """SD's DDPM schedule: betas linear in sqrt space (LDM's "linear" schedule)."""
    betas = torch.linspace(linear_start ** 0.5, linear_end ** 0.5, steps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0).to(torch.float32)


def kdiffusion():
    """``(k_diffusion.sampling, k_diffusion.external)`` from the installed k-diffusion package, without running its
    package ``__init__`` (which imports training-only dependencies such as scikit-image)."""
    if "k_diffusion.sampling" not in sys.modules:
        spec = importlib.util.find_spec("k_diffusion")
        if spec is None:
            pytest.skip("k-diffusion is not installed (pip install --no-deps k-diffusion==0.1.1.post1 ...)")
        package = types.ModuleType("k_diffusion")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules.setdefault("k_diffusion", package)
    import k_diffusion.external
    import k_diffusion.sampling

    return k_diffusion.sampling, k_diffusion.external


def gaussian_denoiser(x: torch.Tensor, sigma: torch.Tensor, mu: float = MU, std: float = STD) -> torch.Tensor:
    """E[x0 | x0 + sigma n = x] for x0 ~ N(mu, std^2): (std^2 x + sigma^2 mu) / (std^2 + sigma^2)."""
    s2 = sigma.reshape(-1, *([1] * (x.ndim - 1))).to(x.dtype) ** 2
    return (std ** 2 * x + s2 * mu) / (std ** 2 + s2)


class AnalyticDenoiser:
    """D(x, sigma): the exact Gaussian denoiser plus a small smooth nonlinearity, so multistep methods differ."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **extra) -> torch.Tensor:
        self.calls += 1
        s = sigma.reshape(-1, *([1] * (x.ndim - 1))).to(x.dtype)
        return gaussian_denoiser(x, sigma) + 0.05 * torch.tanh(x) * s / (1 + s)


class SeededNoise:
    """A noise sampler that returns the next draw of its own generator: two instances with one seed agree."""

    def __init__(self, x: torch.Tensor, seed: int) -> None:
        self.shape = x.shape
        self.generator = torch.Generator().manual_seed(seed)
        self.calls = 0

    def __call__(self, sigma, sigma_next) -> torch.Tensor:
        self.calls += 1
        return torch.randn(self.shape, generator=self.generator)


def log_alpha_at(alphas_cumprod: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """0.5 log alpha_bar at a (fractional) timestep, linear between integers (UniPC's continuous-time view)."""
    log_alphas = 0.5 * torch.log(alphas_cumprod.double())
    t = t.double().clamp(0, len(alphas_cumprod) - 1)
    low = t.floor().long()
    high = t.ceil().long()
    w = t - low
    return (1 - w) * log_alphas[low] + w * log_alphas[high]


class GaussianLDM:
    """A model with the LDM contract whose eps prediction is exact for data N(mu, std^2), where mu is the first
    entry of each row's text cond (so CFG moves the mean) — ``apply_model(x, t, cond)``."""

    is_sdxl = False
    cond_stage_key = "crossattn"
    conditioning_key = "crossattn"

    def __init__(self, parameterization: str = "eps", std: float = STD) -> None:
        self.parameterization = parameterization
        self.alphas_cumprod = make_alphas_cumprod()
        self.std = std
        self.calls: list[dict] = []

    def apply_model(self, x: torch.Tensor, t: torch.Tensor, cond: dict) -> torch.Tensor:
        self.calls.append({"rows": x.shape[0], "t": t.detach().clone(), "cond": cond})
        mu = cond["c_crossattn"][0][:, 0, 0].double().reshape(-1, *([1] * (x.ndim - 1)))
        sqrt_a = log_alpha_at(self.alphas_cumprod, t).exp().reshape(-1, *([1] * (x.ndim - 1)))
        a = sqrt_a ** 2
        xd = x.double()
        eps = (1 - a).sqrt() * (xd - sqrt_a * mu) / (a * self.std ** 2 + 1 - a)
        if self.parameterization == "v":
            x0 = (xd - (1 - a).sqrt() * eps) / sqrt_a
            return (sqrt_a * eps - (1 - a).sqrt() * x0).to(x.dtype)
        return eps.to(x.dtype)


def text_cond(rows: int, value: float, tokens: int = 77, width: int = 8) -> torch.Tensor:
    """A fake text cond whose first entry (read by :class:`GaussianLDM` as the data mean) is ``value``."""
    c = torch.zeros(rows, tokens, width)
    c[:, 0, 0] = value
    return c


class FakeRng:
    """``p.rng``: standard normal batches from one generator."""

    def __init__(self, shape, seed: int = 0) -> None:
        self.shape = shape
        self.generator = torch.Generator().manual_seed(seed)
        self.calls = 0

    def next(self) -> torch.Tensor:
        self.calls += 1
        return torch.randn(self.shape, generator=self.generator)


class FakeP:
    """The documented ``p`` protocol, nothing more."""

    def __init__(self, steps: int = 20, cfg_scale: float = 1.0, scheduler: str | None = None, **kwargs) -> None:
        self.steps = steps
        self.cfg_scale = cfg_scale
        self.scheduler = scheduler
        self.eta = None
        self.denoising_strength = 0.75
        self.extra_generation_params: dict = {}
        self.sampler_noise_scheduler_override = None
        self.s_min_uncond = 0.0
        self.__dict__.update(kwargs)


def sample_stats(x: torch.Tensor) -> tuple[float, float]:
    return float(x.mean()), float(x.std())


def assert_distribution(x: torch.Tensor, mu: float = MU, std: float = STD, tol: float = 0.03) -> None:
    mean, sd = sample_stats(x)
    assert math.isfinite(mean) and abs(mean - mu) < tol, (mean, sd)
    assert abs(sd - std) < tol, (mean, sd)
