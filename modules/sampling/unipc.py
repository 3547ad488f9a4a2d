"""UniPC: Zhao et al. (2023), "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of Diffusion
Models", arXiv:2302.04867 — multistep data-prediction solver (UniP) with the UniC corrector, over the continuous
time of a discrete VP schedule as in DPM-Solver (Lu et al. 2022, arXiv:2206.00927, sec. 3.1).

Time t in (0, 1]: DDPM timestep n (0..N-1) sits at t = (n + 1) / N, log alpha_t is interpolated linearly between
them, lambda_t = log alpha_t - log sigma_t is half the log-SNR.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from modules.sampling.sampler_math import Callback, Denoiser, append_dims


def interpolate(x: torch.Tensor, xp: torch.Tensor, yp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear f with knots (xp, yp), extended linearly beyond both ends; x is (N, 1), xp/yp are (1, K)."""
    knots_x, knots_y = xp[0], yp[0]
    descending = knots_x[0] > knots_x[-1]
    if descending:
        knots_x, knots_y = knots_x.flip(0), knots_y.flip(0)
    k = knots_x.shape[0]
    values = x[:, 0]
    # segment index: the last knot at or below x, kept inside [0, k - 2] so the ends extrapolate
    start = (torch.searchsorted(knots_x.contiguous(), values.contiguous(), right=True) - 1).clamp(0, k - 2)
    x0, x1 = knots_x[start], knots_x[start + 1]
    y0, y1 = knots_y[start], knots_y[start + 1]
    return (y0 + (values - x0) * (y1 - y0) / (x1 - x0)).reshape(-1, 1)


class DiscreteVPSchedule:
    """alpha_t, sigma_t and lambda_t of a DDPM ``alphas_cumprod`` as functions of continuous time t in (0, 1]."""

    def __init__(self, alphas_cumprod: torch.Tensor) -> None:
        log_alphas = 0.5 * torch.log(alphas_cumprod)
        self.total_N = len(log_alphas)
        self.T = 1.0
        self.t_array = torch.linspace(0.0, 1.0, self.total_N + 1)[1:].reshape((1, -1))
        self.log_alpha_array = log_alphas.reshape((1, -1))

    def marginal_log_mean_coeff(self, t: torch.Tensor) -> torch.Tensor:
        return interpolate(t.reshape((-1, 1)), self.t_array.to(t.device), self.log_alpha_array.to(t.device)).reshape(-1)

    def marginal_alpha(self, t: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.marginal_log_mean_coeff(t))

    def marginal_std(self, t: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(1.0 - torch.exp(2.0 * self.marginal_log_mean_coeff(t)))

    def marginal_lambda(self, t: torch.Tensor) -> torch.Tensor:
        log_mean_coeff = self.marginal_log_mean_coeff(t)
        log_std = 0.5 * torch.log(1.0 - torch.exp(2.0 * log_mean_coeff))
        return log_mean_coeff - log_std

    def inverse_lambda(self, lamb: torch.Tensor) -> torch.Tensor:
        log_alpha = -0.5 * torch.logaddexp(torch.zeros((1,)).to(lamb.device), -2.0 * lamb)
        t = interpolate(log_alpha.reshape((-1, 1)), torch.flip(self.log_alpha_array.to(lamb.device), [1]),
                        torch.flip(self.t_array.to(lamb.device), [1]))
        return t.reshape((-1,))


class UniPC:
    """The multistep UniPC solver in data-prediction form (x0 = (x - sigma_t eps) / alpha_t)."""

    def __init__(self, eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], schedule: DiscreteVPSchedule,
                 variant: str = "bh1", after_update: Callable[[torch.Tensor, torch.Tensor | None], None] | None = None):
        if variant not in ("bh1", "bh2", "vary_coeff"):
            raise ValueError(f"unknown UniPC variant {variant!r}")
        self.eps_fn = eps_fn
        self.schedule = schedule
        self.variant = variant
        self.after_update = after_update

    def data_prediction(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        eps = self.eps_fn(x, t)
        alpha_t, sigma_t = self.schedule.marginal_alpha(t), self.schedule.marginal_std(t)
        return (x - append_dims(sigma_t, x.dim()) * eps) / append_dims(alpha_t, x.dim())

    def time_steps(self, skip_type: str, t_T, t_0: float, n: int, device) -> torch.Tensor:
        """n + 1 times from t_T down to t_0: uniform in t, in sqrt(t) ("time_quadratic") or in lambda ("logSNR")."""
        if skip_type == "logSNR":
            lambda_T = self.schedule.marginal_lambda(torch.tensor(t_T).to(device))
            lambda_0 = self.schedule.marginal_lambda(torch.tensor(t_0).to(device))
            steps = torch.linspace(lambda_T.cpu().item(), lambda_0.cpu().item(), n + 1).to(device)
            return self.schedule.inverse_lambda(steps)
        if skip_type == "time_uniform":
            return torch.linspace(t_T, t_0, n + 1).to(device)
        if skip_type == "time_quadratic":
            return torch.linspace(t_T ** 0.5, t_0 ** 0.5, n + 1).pow(2).to(device)
        raise ValueError(f"Unsupported skip_type {skip_type}, need to be 'logSNR' or 'time_uniform' or "
                         "'time_quadratic'")

    def _step_quantities(self, model_prev_list, t_prev_list, t, order):
        """h, the ratios r_k = (lambda_{prev k} - lambda_{prev 0}) / h and the scaled differences D1_k of the
        stored data predictions (the divided differences UniPC's B(h) expansion multiplies)."""
        ns = self.schedule
        t_prev_0 = t_prev_list[-1]
        lambda_prev_0 = ns.marginal_lambda(t_prev_0)
        h = ns.marginal_lambda(t) - lambda_prev_0
        model_prev_0 = model_prev_list[-1]
        rks, d1s = [], []
        for i in range(1, order):
            rk = ((ns.marginal_lambda(t_prev_list[-(i + 1)]) - lambda_prev_0) / h)[0]
            rks.append(rk)
            d1s.append((model_prev_list[-(i + 1)] - model_prev_0) / rk)
        return h, rks, d1s

    def update(self, x, model_prev_list, t_prev_list, t, order, use_corrector=True):
        """One UniP step to time t (plus UniC on x when ``use_corrector``); returns (x_t, model output at x_t)."""
        if len(t.shape) == 0:
            t = t.view(-1)
        if self.variant == "vary_coeff":
            return self._update_vary_coeff(x, model_prev_list, t_prev_list, t, order, use_corrector)
        return self._update_bh(x, model_prev_list, t_prev_list, t, order, use_corrector)

    def _update_bh(self, x, model_prev_list, t_prev_list, t, order, use_corrector):
        """UniPC with B(h) = h ("bh1") or e^h - 1 ("bh2"): the coefficients solve R rho = b (paper eq. 8/9)."""
        ns = self.schedule
        dims = x.dim()
        h, rks, d1s = self._step_quantities(model_prev_list, t_prev_list, t, order)
        model_prev_0 = model_prev_list[-1]
        sigma_prev_0, sigma_t = ns.marginal_std(t_prev_list[-1]), ns.marginal_std(t)
        alpha_t = torch.exp(ns.marginal_log_mean_coeff(t))
        rks = torch.tensor([*rks, 1.0], device=x.device)

        hh = -h[0]
        h_phi_1 = torch.expm1(hh)  # e^{-h} - 1 in the data-prediction form
        h_phi_k = h_phi_1 / hh - 1
        b_h = hh if self.variant == "bh1" else torch.expm1(hh)
        rows, b = [], []
        factorial_i = 1
        for i in range(1, order + 1):
            rows.append(torch.pow(rks, i - 1))
            b.append(h_phi_k * factorial_i / b_h)
            factorial_i *= i + 1
            h_phi_k = h_phi_k / hh - 1 / factorial_i
        r_matrix = torch.stack(rows)
        b = torch.tensor(b, device=x.device)

        d1s_stacked = torch.stack(d1s, dim=1) if d1s else None
        if d1s_stacked is not None:
            # second order has a closed form; higher orders solve the Vandermonde-like system
            if order == 2:
                rhos_p = torch.tensor([0.5], device=b.device)
            else:
                rhos_p = torch.linalg.solve(r_matrix[:-1, :-1], b[:-1])
        if use_corrector:
            rhos_c = torch.tensor([0.5], device=b.device) if order == 1 else torch.linalg.solve(r_matrix, b)

        x_t_ = append_dims(sigma_t / sigma_prev_0, dims) * x - append_dims(alpha_t * h_phi_1, dims) * model_prev_0
        pred_res = torch.einsum("k,bk...->b...", rhos_p, d1s_stacked) if d1s_stacked is not None else 0
        x_t = x_t_ - append_dims(alpha_t * b_h, dims) * pred_res

        model_t = None
        if use_corrector:
            model_t = self.data_prediction(x_t, t)
            corr_res = torch.einsum("k,bk...->b...", rhos_c[:-1], d1s_stacked) if d1s_stacked is not None else 0
            d1_t = model_t - model_prev_0
            x_t = x_t_ - append_dims(alpha_t * b_h, dims) * (corr_res + rhos_c[-1] * d1_t)
        return x_t, model_t

    def _update_vary_coeff(self, x, model_prev_list, t_prev_list, t, order, use_corrector):
        """UniPC with order-varying coefficients: the phi-function expansion with C^{-1} weights (paper sec. 3.3)."""
        ns = self.schedule
        dims = x.dim()
        h, rks, d1s = self._step_quantities(model_prev_list, t_prev_list, t, order)
        model_prev_0 = model_prev_list[-1]
        sigma_prev_0, sigma_t = ns.marginal_std(t_prev_list[-1]), ns.marginal_std(t)
        alpha_t = torch.exp(ns.marginal_log_mean_coeff(t))
        rks = torch.tensor([*rks, 1.0], device=x.device)
        k_count = len(rks)

        columns = []
        col = torch.ones_like(rks)
        for k in range(1, k_count + 1):
            columns.append(col)
            col = col * rks / (k + 1)
        c_matrix = torch.stack(columns, dim=1)
        d1s_stacked = torch.stack(d1s, dim=1) if d1s else None
        a_p = torch.linalg.inv(c_matrix[:-1, :-1]) if d1s_stacked is not None else None
        a_c = torch.linalg.inv(c_matrix) if use_corrector else None

        hh = -h
        h_phi_ks = []
        factorial_k = 1
        h_phi_k = torch.expm1(hh)
        for k in range(1, k_count + 2):
            h_phi_ks.append(h_phi_k)
            h_phi_k = h_phi_k / hh - 1 / factorial_k
            factorial_k *= k + 1

        def scaled(v: torch.Tensor) -> torch.Tensor:
            return append_dims(v, dims)

        x_t_ = scaled(sigma_t / sigma_prev_0) * x - scaled(alpha_t * h_phi_ks[0]) * model_prev_0
        x_t = x_t_
        if d1s_stacked is not None:
            for k in range(k_count - 1):
                x_t = x_t - scaled(alpha_t * h_phi_ks[k + 1]) * torch.einsum("bk...,k->b...", d1s_stacked, a_p[k])
        model_t = None
        if use_corrector:
            model_t = self.data_prediction(x_t, t)
            d1_t = model_t - model_prev_0
            x_t = x_t_
            last = 0
            for last in range(k_count - 1):
                x_t = x_t - scaled(alpha_t * h_phi_ks[last + 1]) * torch.einsum("bk...,k->b...", d1s_stacked,
                                                                                  a_c[last][:-1])
            # the reference implementation weights D1_t with the last loop row's final entry; kept for parity
            x_t = x_t - scaled(alpha_t * h_phi_ks[k_count]) * (d1_t * a_c[last][-1])
        return x_t, model_t

    def sample(self, x: torch.Tensor, steps: int, t_start=None, t_end=None, order: int = 3,
               skip_type: str = "time_uniform", lower_order_final: bool = True) -> torch.Tensor:
        """Run ``steps`` multistep updates from t_start (default T) to t_end (default 1 / N)."""
        t_0 = 1.0 / self.schedule.total_N if t_end is None else t_end
        t_T = self.schedule.T if t_start is None else t_start
        order = max(1, min(order, steps))  # A1111 asserts steps >= order; a lower order is the usable reading
        timesteps = self.time_steps(skip_type, t_T, t_0, steps, x.device)
        vec_t = timesteps[0].expand((x.shape[0]))
        model_prev_list = [self.data_prediction(x, vec_t)]
        t_prev_list = [vec_t]
        # warm-up: the first order - 1 steps use the orders available so far
        for init_order in range(1, order):
            vec_t = timesteps[init_order].expand(x.shape[0])
            x, model_x = self.update(x, model_prev_list, t_prev_list, vec_t, init_order, use_corrector=True)
            if model_x is None:
                model_x = self.data_prediction(x, vec_t)
            if self.after_update is not None:
                self.after_update(x, model_x)
            model_prev_list.append(model_x)
            t_prev_list.append(vec_t)
        for step in range(order, steps + 1):
            vec_t = timesteps[step].expand(x.shape[0])
            step_order = min(order, steps + 1 - step) if lower_order_final else order
            # no corrector on the last step: its model evaluation would only serve a step that never comes
            x, model_x = self.update(x, model_prev_list, t_prev_list, vec_t, step_order,
                                     use_corrector=step != steps)
            if self.after_update is not None:
                self.after_update(x, model_x)
            for i in range(order - 1):
                t_prev_list[i] = t_prev_list[i + 1]
                model_prev_list[i] = model_prev_list[i + 1]
            t_prev_list[-1] = vec_t
            if step < steps:
                if model_x is None:
                    model_x = self.data_prediction(x, vec_t)
                model_prev_list[-1] = model_x
        return x


@torch.no_grad()
def unipc(model: Denoiser, x: torch.Tensor, timesteps: torch.Tensor, extra_args: dict | None = None,
          callback: Callback = None, disable: bool | None = None, is_img2img=False, variant="bh1",
          skip_type="time_uniform", order=3, lower_order_final=True):
    """UniPC (Zhao et al. 2023, arXiv:2302.04867) over A1111's timesteps; ``model(x, t, **extra_args)`` gives eps at
    the (fractional) DDPM timestep t and ``model.alphas_cumprod`` the schedule."""
    if len(timesteps) == 0:
        # img2img at a strength that rounds to 0 steps: nothing to solve (A1111 reads timesteps[-1] and raises)
        return x
    extra_args = {} if extra_args is None else extra_args
    schedule = DiscreteVPSchedule(model.alphas_cumprod)
    index = 0

    def eps_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # continuous t in [1/N, 1] back to the DDPM timestep 0..N-1 the network was trained on
        return model(x, (t - 1.0 / schedule.total_N) * 1000.0, **extra_args)

    def after_update(x: torch.Tensor, model_x: torch.Tensor | None) -> None:
        nonlocal index
        if callback is not None:
            callback({"x": x, "i": index, "sigma": 0, "sigma_hat": 0, "denoised": model_x})
        index += 1

    # img2img starts at the continuous time of the last timestep (A1111 adds 1/1000 on top of it)
    t_start: Any = timesteps[-1] / 1000 + 1 / 1000 if is_img2img else None
    solver = UniPC(eps_fn, schedule, variant=variant, after_update=after_update)
    return solver.sample(x, steps=len(timesteps), t_start=t_start, skip_type=skip_type, order=order,
                         lower_order_final=lower_order_final)
