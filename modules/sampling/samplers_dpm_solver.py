"""DPM-Solver with fixed ("fast") and adaptive step sizes: Lu et al. (2022), "DPM-Solver: A Fast ODE Solver for
Diffusion Probabilistic Model Sampling in Around 10 Steps", arXiv:2206.00927.

Time is t = -log(sigma) (half the log-SNR in the variance-exploding form); eps(x, t) = (x - D(x, sigma)) / sigma.
Unlike the other samplers these take ``sigma_min``, ``sigma_max`` (and ``n``) instead of a sigma list.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

from modules.sampling.sampler_math import Callback, Denoiser, NoiseSampler, default_noise_sampler, get_ancestral_step


def _expm1_over_minus_1(z: torch.Tensor) -> torch.Tensor:
    """(e^z - 1) / z - 1, with its limit 0 at z = 0 (a zero-length step, where the quotient is 0 / 0)."""
    return torch.where(z == 0, torch.zeros_like(z), z.expm1() / z - 1)


def _noise_span(sigma_to: torch.Tensor, sigma_down: torch.Tensor) -> torch.Tensor:
    """sqrt(sigma_to^2 - sigma_down^2), the noise to add after stepping to sigma_down; sigma_down went through
    exp(-(-log)), which can round it a hair above sigma_to when eta is tiny, and sqrt of that is NaN, not 0."""
    return (sigma_to ** 2 - sigma_down ** 2).clamp(min=0) ** 0.5


class PIDStepSizeController:
    """PID control of the step size for adaptive ODE solvers (Söderlind 2003, "Digital filters in adaptive
    time-stepping"), with the arctan limiter."""

    def __init__(self, h: float, pcoeff: float, icoeff: float, dcoeff: float, order: float = 1,
                 accept_safety: float = 0.81, eps: float = 1e-8) -> None:
        self.h = h
        self.b1 = (pcoeff + icoeff + dcoeff) / order
        self.b2 = -(pcoeff + 2 * dcoeff) / order
        self.b3 = dcoeff / order
        self.accept_safety = accept_safety
        self.eps = eps
        self.errs: list[float] = []

    @staticmethod
    def limiter(x: float) -> float:
        return 1 + math.atan(x - 1)

    def propose_step(self, error) -> bool:
        """Scale ``h`` from the latest error estimates; True when the step that produced ``error`` is accepted."""
        inv_error = 1 / (float(error) + self.eps)
        if not self.errs:
            self.errs = [inv_error, inv_error, inv_error]
        self.errs[0] = inv_error
        factor = self.limiter(self.errs[0] ** self.b1 * self.errs[1] ** self.b2 * self.errs[2] ** self.b3)
        accept = factor >= self.accept_safety
        if accept:
            self.errs[2] = self.errs[1]
            self.errs[1] = self.errs[0]
        self.h *= factor
        return accept


class DPMSolver:
    """Single-step DPM-Solver-1/2/3 updates in t = -log sigma, caching eps evaluations within one step."""

    def __init__(self, model, extra_args: dict | None = None, info_callback: Callable[[dict], None] | None = None):
        self.model = model
        self.extra_args = {} if extra_args is None else extra_args
        self.info_callback = info_callback

    @staticmethod
    def t(sigma: torch.Tensor) -> torch.Tensor:
        return -sigma.log()

    @staticmethod
    def sigma(t: torch.Tensor) -> torch.Tensor:
        return t.neg().exp()

    def eps(self, cache: dict, key: str, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, dict]:
        if key in cache:
            return cache[key], cache
        sigma = self.sigma(t) * x.new_ones([x.shape[0]])
        eps = (x - self.model(x, sigma, **self.extra_args)) / self.sigma(t)
        return eps, {key: eps, **cache}

    def step_1(self, x, t, t_next, cache=None):
        """DPM-Solver-1 (equivalent to DDIM), eq. 3.7."""
        cache = {} if cache is None else cache
        h = t_next - t
        eps, cache = self.eps(cache, "eps", x, t)
        return x - self.sigma(t_next) * h.expm1() * eps, cache

    def step_2(self, x, t, t_next, r1=1 / 2, cache=None):
        """DPM-Solver-2, Algorithm 4 (intermediate point at t + r1 h)."""
        cache = {} if cache is None else cache
        h = t_next - t
        eps, cache = self.eps(cache, "eps", x, t)
        s1 = t + r1 * h
        u1 = x - self.sigma(s1) * (r1 * h).expm1() * eps
        eps_r1, cache = self.eps(cache, "eps_r1", u1, s1)
        x_2 = x - self.sigma(t_next) * h.expm1() * eps - self.sigma(t_next) / (2 * r1) * h.expm1() * (eps_r1 - eps)
        return x_2, cache

    def step_3(self, x, t, t_next, r1=1 / 3, r2=2 / 3, cache=None):
        """DPM-Solver-3, Algorithm 5."""
        cache = {} if cache is None else cache
        h = t_next - t
        eps, cache = self.eps(cache, "eps", x, t)
        s1 = t + r1 * h
        s2 = t + r2 * h
        u1 = x - self.sigma(s1) * (r1 * h).expm1() * eps
        eps_r1, cache = self.eps(cache, "eps_r1", u1, s1)
        u2 = (x - self.sigma(s2) * (r2 * h).expm1() * eps
              - self.sigma(s2) * (r2 / r1) * _expm1_over_minus_1(r2 * h) * (eps_r1 - eps))
        eps_r2, cache = self.eps(cache, "eps_r2", u2, s2)
        x_3 = (x - self.sigma(t_next) * h.expm1() * eps
               - self.sigma(t_next) / r2 * _expm1_over_minus_1(h) * (eps_r2 - eps))
        return x_3, cache

    def _step(self, order: int, x, t, t_next, cache):
        if order == 1:
            return self.step_1(x, t, t_next, cache=cache)
        if order == 2:
            return self.step_2(x, t, t_next, cache=cache)
        return self.step_3(x, t, t_next, cache=cache)

    def fast(self, x, t_start, t_end, nfe: int, eta=0.0, s_noise=1.0, noise_sampler: NoiseSampler | None = None):
        """DPM-Solver-fast (sec. 3.4): floor(nfe / 3) + 1 equal steps in t, third order except the last one or two."""
        noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
        if not t_end > t_start and eta:
            raise ValueError("eta must be 0 for reverse sampling")
        m = math.floor(nfe / 3) + 1
        ts = torch.linspace(t_start, t_end, m + 1, device=x.device)
        orders = [3] * (m - 2) + [2, 1] if nfe % 3 == 0 else [3] * (m - 1) + [nfe % 3]
        for i, order in enumerate(orders):
            cache: dict = {}
            t, t_next = ts[i], ts[i + 1]
            if eta:
                sd, su = get_ancestral_step(self.sigma(t), self.sigma(t_next), eta)
                t_next_ = torch.minimum(t_end, self.t(sd))
                su = _noise_span(self.sigma(t_next), self.sigma(t_next_))
            else:
                t_next_, su = t_next, 0.0
            eps, cache = self.eps(cache, "eps", x, t)
            denoised = x - self.sigma(t) * eps
            if self.info_callback is not None:
                self.info_callback({"x": x, "i": i, "t": ts[i], "t_up": t, "denoised": denoised})
            x, cache = self._step(order, x, t, t_next_, cache)
            x = x + su * s_noise * noise_sampler(self.sigma(t), self.sigma(t_next))
        return x

    def adaptive(self, x, t_start, t_end, order=3, rtol=0.05, atol=0.0078, h_init=0.05, pcoeff=0.0, icoeff=1.0,
                 dcoeff=0.0, accept_safety=0.81, eta=0.0, s_noise=1.0, noise_sampler: NoiseSampler | None = None):
        """DPM-Solver-12 / 23 (sec. 4.2 and appendix C): embedded pairs with PID step-size control."""
        noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
        if order not in {2, 3}:
            raise ValueError("order should be 2 or 3")
        forward = t_end > t_start
        if not forward and eta:
            raise ValueError("eta must be 0 for reverse sampling")
        h_init = abs(h_init) * (1 if forward else -1)
        atol = torch.tensor(atol)
        rtol = torch.tensor(rtol)
        s = t_start
        x_prev = x
        pid = PIDStepSizeController(h_init, pcoeff, icoeff, dcoeff, 1.5 if eta else order, accept_safety)
        info = {"steps": 0, "nfe": 0, "n_accept": 0, "n_reject": 0}

        while s < t_end - 1e-5 if forward else s > t_end + 1e-5:
            cache: dict = {}
            t = torch.minimum(t_end, s + pid.h) if forward else torch.maximum(t_end, s + pid.h)
            if eta:
                sd, su = get_ancestral_step(self.sigma(s), self.sigma(t), eta)
                t_ = torch.minimum(t_end, self.t(sd))
                su = _noise_span(self.sigma(t), self.sigma(t_))
            else:
                t_, su = t, 0.0
            eps, cache = self.eps(cache, "eps", x, s)
            denoised = x - self.sigma(s) * eps
            if order == 2:
                x_low, cache = self.step_1(x, s, t_, cache=cache)
                x_high, cache = self.step_2(x, s, t_, cache=cache)
            else:
                x_low, cache = self.step_2(x, s, t_, r1=1 / 3, cache=cache)
                x_high, cache = self.step_3(x, s, t_, cache=cache)
            delta = torch.maximum(atol, rtol * torch.maximum(x_low.abs(), x_prev.abs()))
            error = torch.linalg.norm((x_low - x_high) / delta) / x.numel() ** 0.5
            if pid.propose_step(error):
                x_prev = x_low
                x = x_high + su * s_noise * noise_sampler(self.sigma(s), self.sigma(t))
                s = t
                info["n_accept"] += 1
            else:
                info["n_reject"] += 1
            info["nfe"] += order
            info["steps"] += 1
            if self.info_callback is not None:
                self.info_callback({"x": x, "i": info["steps"] - 1, "t": s, "t_up": s, "denoised": denoised,
                                    "error": error, "h": pid.h, **info})
        return x, info


def _karras_callback(solver: DPMSolver, callback) -> Callable[[dict], None] | None:
    if callback is None:
        return None
    return lambda info: callback({"sigma": solver.sigma(info["t"]), "sigma_hat": solver.sigma(info["t_up"]), **info})


@torch.no_grad()
def sample_dpm_fast(model: Denoiser, x: torch.Tensor, sigma_min, sigma_max, n: int, extra_args: dict | None = None,
                    callback: Callback = None, disable: bool | None = None, eta=0.0, s_noise=1.0,
                    noise_sampler: NoiseSampler | None = None) -> torch.Tensor:
    """DPM-Solver-fast with a fixed step size: Lu et al. (2022), arXiv:2206.00927, sec. 3.4."""
    if sigma_min <= 0 or sigma_max <= 0:
        raise ValueError("sigma_min and sigma_max must not be 0")
    solver = DPMSolver(model, extra_args)
    solver.info_callback = _karras_callback(solver, callback)
    return solver.fast(x, solver.t(torch.as_tensor(sigma_max)), solver.t(torch.as_tensor(sigma_min)), n, eta, s_noise,
                       noise_sampler)


@torch.no_grad()
def sample_dpm_adaptive(model: Denoiser, x: torch.Tensor, sigma_min, sigma_max, extra_args: dict | None = None,
                        callback: Callback = None, disable: bool | None = None, order=3, rtol=0.05, atol=0.0078,
                        h_init=0.05, pcoeff=0.0, icoeff=1.0, dcoeff=0.0, accept_safety=0.81, eta=0.0, s_noise=1.0,
                        noise_sampler: NoiseSampler | None = None, return_info=False) -> Any:
    """DPM-Solver-12 and -23 with adaptive step size: Lu et al. (2022), arXiv:2206.00927, sec. 4.2."""
    if sigma_min <= 0 or sigma_max <= 0:
        raise ValueError("sigma_min and sigma_max must not be 0")
    solver = DPMSolver(model, extra_args)
    solver.info_callback = _karras_callback(solver, callback)
    t_start, t_end = solver.t(torch.as_tensor(sigma_max)), solver.t(torch.as_tensor(sigma_min))
    x, info = solver.adaptive(x, t_start, t_end, order, rtol, atol, h_init, pcoeff, icoeff, dcoeff, accept_safety, eta,
                              s_noise, noise_sampler)
    return (x, info) if return_info else x
