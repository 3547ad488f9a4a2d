"""First- and second-order ODE samplers in Karras et al. form (Euler, Heun, DPM2, their ancestral variants, LMS).

Contract of every sampler: ``fn(model, x, sigmas, extra_args=None, callback=None, disable=None, **knobs)`` where
``model(x, sigma * ones(batch), **extra_args)`` returns the denoised x0 and ``x`` starts at noise level sigmas[0].
``callback`` gets ``{"x", "i", "sigma", "sigma_hat", "denoised"}`` once per step; ``noise_sampler(sigma, sigma_next)``
supplies every random draw (churn and ancestral noise), so batches can draw per-image noise.
"""
from __future__ import annotations

import torch

from modules.sampling.sampler_math import (Callback, Denoiser, NoiseSampler, default_noise_sampler, get_ancestral_step,
                                           steps_range, to_d)


def _churn(x: torch.Tensor, sigmas: torch.Tensor, i: int, s_churn: float, s_tmin: float, s_tmax: float,
           s_noise: float, noise_sampler: NoiseSampler) -> tuple[torch.Tensor, torch.Tensor]:
    """Karras et al. (2022) Algorithm 2, lines 4-6: raise the noise level to sigma_hat = sigma (1 + gamma) by adding
    fresh noise. The draw happens on every step, used or not, so the noise stream stays aligned with k-diffusion."""
    gamma = min(s_churn / (len(sigmas) - 1), 2 ** 0.5 - 1) if s_tmin <= sigmas[i] <= s_tmax else 0.0
    eps = noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise
    sigma_hat = sigmas[i] * (gamma + 1)
    if gamma > 0:
        x = x + eps * (sigma_hat ** 2 - sigmas[i] ** 2) ** 0.5
    return x, sigma_hat


@torch.no_grad()
def sample_euler(model: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None,
                 callback: Callback = None, disable: bool | None = None, s_churn=0.0, s_tmin=0.0,
                 s_tmax=float("inf"), s_noise=1.0, noise_sampler: NoiseSampler | None = None):
    """Euler steps with optional churn: Karras et al. (2022), "Elucidating the Design Space...", Algorithm 2."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in steps_range(len(sigmas) - 1, disable):
        x, sigma_hat = _churn(x, sigmas, i, s_churn, s_tmin, s_tmax, s_noise, noise_sampler)
        denoised = model(x, sigma_hat * s_in, **extra_args)
        d = to_d(x, sigma_hat, denoised)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigma_hat, "denoised": denoised})
        x = x + d * (sigmas[i + 1] - sigma_hat)
    return x


@torch.no_grad()
def sample_euler_ancestral(model: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None,
                           callback: Callback = None, disable: bool | None = None, eta=1.0,
                           s_noise=1.0, noise_sampler: NoiseSampler | None = None):
    """Ancestral Euler: an Euler step to sigma_down, then fresh noise sigma_up (Ho et al. 2020's DDPM posterior
    noise in Karras form; Karras et al. 2022, sec. 4)."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in steps_range(len(sigmas) - 1, disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        d = to_d(x, sigmas[i], denoised)
        x = x + d * (sigma_down - sigmas[i])
        if sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


@torch.no_grad()
def sample_heun(model: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None,
                callback: Callback = None, disable: bool | None = None, s_churn=0.0, s_tmin=0.0,
                s_tmax=float("inf"), s_noise=1.0, noise_sampler: NoiseSampler | None = None):
    """Heun's second-order method with optional churn: Karras et al. (2022), Algorithm 2."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in steps_range(len(sigmas) - 1, disable):
        x, sigma_hat = _churn(x, sigmas, i, s_churn, s_tmin, s_tmax, s_noise, noise_sampler)
        denoised = model(x, sigma_hat * s_in, **extra_args)
        d = to_d(x, sigma_hat, denoised)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigma_hat, "denoised": denoised})
        dt = sigmas[i + 1] - sigma_hat
        if sigmas[i + 1] == 0:
            x = x + d * dt  # the last step to sigma 0 is plain Euler: D(x; 0) is undefined
        else:
            x_2 = x + d * dt
            denoised_2 = model(x_2, sigmas[i + 1] * s_in, **extra_args)
            d_2 = to_d(x_2, sigmas[i + 1], denoised_2)
            x = x + (d + d_2) / 2 * dt
    return x


@torch.no_grad()
def sample_dpm_2(model: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None,
                 callback: Callback = None, disable: bool | None = None, s_churn=0.0, s_tmin=0.0,
                 s_tmax=float("inf"), s_noise=1.0, noise_sampler: NoiseSampler | None = None):
    """DPM-Solver-2 midpoint steps (Lu et al. 2022, arXiv:2206.00927) in Karras et al. (2022) Algorithm 2 form."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in steps_range(len(sigmas) - 1, disable):
        x, sigma_hat = _churn(x, sigmas, i, s_churn, s_tmin, s_tmax, s_noise, noise_sampler)
        denoised = model(x, sigma_hat * s_in, **extra_args)
        d = to_d(x, sigma_hat, denoised)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigma_hat, "denoised": denoised})
        if sigmas[i + 1] == 0:
            x = x + d * (sigmas[i + 1] - sigma_hat)
        else:
            # the midpoint in log sigma, where DPM-Solver-2 evaluates the second derivative
            sigma_mid = sigma_hat.log().lerp(sigmas[i + 1].log(), 0.5).exp()
            x_2 = x + d * (sigma_mid - sigma_hat)
            denoised_2 = model(x_2, sigma_mid * s_in, **extra_args)
            d_2 = to_d(x_2, sigma_mid, denoised_2)
            x = x + d_2 * (sigmas[i + 1] - sigma_hat)
    return x


@torch.no_grad()
def sample_dpm_2_ancestral(model: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None,
                           callback: Callback = None, disable: bool | None = None, eta=1.0,
                           s_noise=1.0, noise_sampler: NoiseSampler | None = None):
    """Ancestral DPM-Solver-2 (Lu et al. 2022): a midpoint step to sigma_down, then fresh noise sigma_up."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in steps_range(len(sigmas) - 1, disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        d = to_d(x, sigmas[i], denoised)
        if sigma_down == 0:
            x = x + d * (sigma_down - sigmas[i])
        else:
            sigma_mid = sigmas[i].log().lerp(sigma_down.log(), 0.5).exp()
            x_2 = x + d * (sigma_mid - sigmas[i])
            denoised_2 = model(x_2, sigma_mid * s_in, **extra_args)
            d_2 = to_d(x_2, sigma_mid, denoised_2)
            x = x + d_2 * (sigma_down - sigmas[i])
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def linear_multistep_coeff(order: int, t, i: int, j: int) -> float:
    """Integral over [t_i, t_{i+1}] of the Lagrange basis polynomial of node t_{i-j} on nodes t_i .. t_{i-order+1}.

    The polynomial is integrated exactly (its coefficients are built up factor by factor), which equals the
    adaptive quadrature k-diffusion uses to within float rounding.
    """
    if order - 1 > i:
        raise ValueError(f"Order {order} too high for step {i}")
    nodes = [float(t[i - k]) for k in range(order)]
    coeffs = [1.0]  # polynomial in tau, lowest degree first
    for k in range(order):
        if k == j:
            continue
        denom = nodes[j] - nodes[k]
        shifted = [0.0] * (len(coeffs) + 1)
        for power, c in enumerate(coeffs):
            shifted[power + 1] += c / denom
            shifted[power] -= c * nodes[k] / denom
        coeffs = shifted
    a, b = float(t[i]), float(t[i + 1])
    return sum(c * (b ** (p + 1) - a ** (p + 1)) / (p + 1) for p, c in enumerate(coeffs))


def _distinct_order(t, i: int, order: int) -> int:
    """The largest order <= ``order`` whose nodes t_i, t_{i-1}, ... are all different.

    A repeated sigma leaves two equal nodes, whose Lagrange basis divides by 0 (k-diffusion's quadrature then gives
    NaN); the step then uses only the most recent derivatives, back to the first repeated sigma.
    """
    nodes = [float(t[i])]
    for k in range(1, order):
        if float(t[i - k]) in nodes:
            return k
        nodes.append(float(t[i - k]))
    return order


@torch.no_grad()
def sample_lms(model: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None,
               callback: Callback = None, disable: bool | None = None, order=4):
    """Linear multistep (Adams-Bashforth in sigma) on the probability-flow ODE: Karras et al. (2022) / PNDM
    (Liu et al. 2022, arXiv:2202.09778)."""
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    sigmas_cpu = sigmas.detach().cpu().numpy()
    ds: list[torch.Tensor] = []
    for i in steps_range(len(sigmas) - 1, disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        ds.append(to_d(x, sigmas[i], denoised))
        if len(ds) > order:
            ds.pop(0)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        cur_order = _distinct_order(sigmas_cpu, i, min(i + 1, order))
        coeffs = [linear_multistep_coeff(cur_order, sigmas_cpu, i, j) for j in range(cur_order)]
        x = x + sum(coeff * d for coeff, d in zip(coeffs, reversed(ds)))
    return x
