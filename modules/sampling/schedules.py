"""Noise schedules: the decreasing sigmas a k-diffusion sampler walks through, each ending in 0 (KL Optimal ends
at sigma_min, as in A1111 1.10.1).

Schedules that need the model's own discrete sigmas take ``inner_model``: any object with ``sigmas`` (ascending),
``sigma_to_t``, ``t_to_sigma`` and ``get_sigmas`` (see :class:`modules.sampling.denoisers.DiscreteSchedule`).
"""
from __future__ import annotations

import math
from typing import Any

import torch

from modules.sampling.sampler_math import append_zero

# Align Your Steps (Sabour et al. 2024, arXiv:2404.14507): the published 10-step schedules for SD1.5 and SDXL.
AYS_SD15 = [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029]
AYS_SDXL = [14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029]


def get_sigmas_karras(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0,
                      device: Any = "cpu") -> torch.Tensor:
    """Karras et al. (2022) eq. 5: sigmas evenly spaced in sigma^(1/rho)."""
    ramp = torch.linspace(0, 1, n)
    min_inv_rho = sigma_min ** (1 / rho)
    max_inv_rho = sigma_max ** (1 / rho)
    sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho
    return append_zero(sigmas).to(device)


def get_sigmas_exponential(n: int, sigma_min: float, sigma_max: float, device: Any = "cpu") -> torch.Tensor:
    """Sigmas evenly spaced in log sigma."""
    sigmas = torch.linspace(math.log(sigma_max), math.log(sigma_min), n, device=device).exp()
    return append_zero(sigmas)


def get_sigmas_polyexponential(n: int, sigma_min: float, sigma_max: float, rho: float = 1.0,
                               device: Any = "cpu") -> torch.Tensor:
    """Log sigma following a polynomial ramp of degree rho (rho = 1 is the exponential schedule)."""
    ramp = torch.linspace(1, 0, n, device=device) ** rho
    sigmas = torch.exp(ramp * (math.log(sigma_max) - math.log(sigma_min)) + math.log(sigma_min))
    return append_zero(sigmas)


def get_sigmas_vp(n: int, beta_d: float = 19.9, beta_min: float = 0.1, eps_s: float = 1e-3,
                  device: Any = "cpu") -> torch.Tensor:
    """The continuous VP-SDE schedule of Song et al. (2021), arXiv:2011.13456."""
    t = torch.linspace(1, eps_s, n, device=device)
    sigmas = torch.sqrt(torch.exp(beta_d * t ** 2 / 2 + beta_min * t) - 1)
    return append_zero(sigmas)


def uniform(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any = "cpu") -> torch.Tensor:
    """The model's own sigmas at n timesteps evenly spaced from the last to the first (k-diffusion ``get_sigmas``)."""
    return inner_model.get_sigmas(n).to(device)


def sgm_uniform(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any = "cpu") -> torch.Tensor:
    """SGM's discretization: n timesteps evenly spaced between sigma_max and sigma_min, the last one left out."""
    start = inner_model.sigma_to_t(torch.tensor(sigma_max))
    end = inner_model.sigma_to_t(torch.tensor(sigma_min))
    sigmas = [inner_model.t_to_sigma(ts) for ts in torch.linspace(start, end, n + 1)[:-1]]
    sigmas += [0.0]
    return torch.FloatTensor(sigmas).to(device)


def normal_scheduler(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any = "cpu",
                     sgm: bool = False) -> torch.Tensor:
    """n timesteps evenly spaced from the one of sigma_max to the one of sigma_min, both included (unless sgm)."""
    start = inner_model.sigma_to_t(torch.tensor(sigma_max))
    end = inner_model.sigma_to_t(torch.tensor(sigma_min))
    timesteps = torch.linspace(start, end, n + 1)[:-1] if sgm else torch.linspace(start, end, n)
    sigmas = [inner_model.t_to_sigma(ts) for ts in timesteps]
    sigmas += [0.0]
    return torch.FloatTensor(sigmas).to(device)


def simple_scheduler(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any = "cpu") -> torch.Tensor:
    """Every (len/n)-th model sigma counted down from the largest, truncating the fractional stride."""
    table = inner_model.sigmas
    stride = len(table) / n if n > 0 else 0.0  # n = 0 (no steps) picks nothing; A1111 divides by 0
    sigmas = [float(table[-(1 + int(x * stride))]) for x in range(n)]
    sigmas += [0.0]
    return torch.FloatTensor(sigmas).to(device)


def ddim_scheduler(n: int, sigma_min: float, sigma_max: float, inner_model: Any, device: Any = "cpu") -> torch.Tensor:
    """DDIM's uniform timesteps 1, 1 + 1000//n, ... as sigmas (may give more than n when 1000 is not divisible)."""
    table = inner_model.sigmas
    if n <= 0:
        return torch.FloatTensor([0.0]).to(device)  # no steps: only the final 0, like the other schedules
    stride = max(len(table) // n, 1)
    sigmas = [float(table[x]) for x in range(1, len(table), stride)]
    sigmas = sigmas[::-1]
    sigmas += [0.0]
    return torch.FloatTensor(sigmas).to(device)


def kl_optimal(n: int, sigma_min: float, sigma_max: float, device: Any = "cpu") -> torch.Tensor:
    """KL-optimal schedule of Sabour et al. (2024), arXiv:2404.14507: arctan(sigma) linear in the step index."""
    alpha_min = torch.arctan(torch.tensor(sigma_min, device=device))
    alpha_max = torch.arctan(torch.tensor(sigma_max, device=device))
    step_indices = torch.arange(n + 1, device=device)
    # index / n runs 0..1; with n = 0 (no steps) the one index is the last one, 1, not 0 / 0
    ramp = step_indices / n if n > 0 else torch.ones(1, device=device)
    return torch.tan(ramp * alpha_min + (1.0 - ramp) * alpha_max)


def _loglinear_interp(t_steps: list[float], num_steps: int):
    """Resample a decreasing sequence to ``num_steps`` points, linearly in log space."""
    import numpy as np

    xs = np.linspace(0, 1, len(t_steps))
    ys = np.log(t_steps[::-1])
    new_ys = np.interp(np.linspace(0, 1, num_steps), xs, ys)
    return np.exp(new_ys)[::-1].copy()


def align_your_steps(n: int, sigma_min: float, sigma_max: float, device: Any = "cpu", *,
                     is_sdxl: bool = False) -> torch.Tensor:
    """Align Your Steps (Sabour et al. 2024): the published 10-step table, log-linearly resampled to n steps."""
    import numpy as np

    table = list(AYS_SDXL if is_sdxl else AYS_SD15)
    if n != len(table):
        sigmas = np.append(_loglinear_interp(table, n), [0.0])
    else:
        sigmas = table + [0.0]
    return torch.FloatTensor(sigmas).to(device)


def beta_scheduler(n: int, sigma_min: float, sigma_max: float, inner_model: Any = None, device: Any = "cpu", *,
                   alpha: float = 0.6, beta: float = 0.6) -> torch.Tensor:
    """Beta sampling (Lee et al. 2024, arXiv:2407.12173) as in A1111 1.10.1: Beta(alpha, beta) quantiles of
    1 - linspace(0, 1, n), mapped linearly onto [sigma_min, sigma_max]."""
    import numpy as np
    from scipy import stats

    quantiles = [stats.beta.ppf(x, alpha, beta) for x in 1 - np.linspace(0, 1, n)]
    sigmas = [sigma_min + (x * (sigma_max - sigma_min)) for x in quantiles]
    sigmas += [0.0]
    return torch.FloatTensor(sigmas).to(device)
