"""Samplers A1111 adds beside k-diffusion's: Restart and LCM."""
from __future__ import annotations

import torch

from modules.sampling.sampler_math import Callback, Denoiser, NoiseSampler, default_noise_sampler, steps_range, to_d
from modules.sampling.schedules import get_sigmas_karras


@torch.no_grad()
def restart_sampler(model: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None,
                    callback: Callback = None, disable: bool | None = None, s_noise=1.0,
                    restart_list: dict | None = None, noise_sampler: NoiseSampler | None = None):
    """Restart sampling: Xu et al. (2023), "Restart Sampling for Improving Generative Processes",
    arXiv:2306.14878 — Heun ODE steps, re-noised back up to a higher sigma a few times in the low-noise range.

    ``restart_list`` maps a sigma to ``[restart_steps, restart_times, restart_max_sigma]``; by default (as A1111) 20+
    steps get one restart of 9 steps from sigma 0.1 to 2, 36+ steps two restarts of steps // 4 each.
    """
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    step_id = 0

    def heun_step(x, old_sigma, new_sigma):
        nonlocal step_id
        denoised = model(x, old_sigma * s_in, **extra_args)
        d = to_d(x, old_sigma, denoised)
        if callback is not None:
            callback({"x": x, "i": step_id, "sigma": new_sigma, "sigma_hat": old_sigma, "denoised": denoised})
        dt = new_sigma - old_sigma
        if new_sigma == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            denoised_2 = model(x_2, new_sigma * s_in, **extra_args)
            d_2 = to_d(x_2, new_sigma, denoised_2)
            x = x + (d + d_2) / 2 * dt
        step_id += 1
        return x

    steps = sigmas.shape[0] - 1
    if restart_list is None:
        if steps >= 20:
            restart_steps, restart_times = 9, 1
            if steps >= 36:
                restart_steps, restart_times = steps // 4, 2
            # the main schedule gives up the steps the restarts will use, keeping the total step count
            sigmas = get_sigmas_karras(steps - restart_steps * restart_times, sigmas[-2].item(), sigmas[0].item(),
                                       device=sigmas.device)
            restart_list = {0.1: [restart_steps + 1, restart_times, 2]}
        else:
            restart_list = {}

    restart_at = {int(torch.argmin(abs(sigmas - key), dim=0)): value for key, value in restart_list.items()}

    step_list = []
    for i in range(len(sigmas) - 1):
        step_list.append((sigmas[i], sigmas[i + 1]))
        if i + 1 in restart_at:
            restart_steps, restart_times, restart_max = restart_at[i + 1]
            min_idx = i + 1
            max_idx = int(torch.argmin(abs(sigmas - restart_max), dim=0))
            if max_idx < min_idx:
                sigma_restart = get_sigmas_karras(restart_steps, sigmas[min_idx].item(), sigmas[max_idx].item(),
                                                  device=sigmas.device)[:-1]
                for _ in range(restart_times):
                    step_list.extend(zip(sigma_restart[:-1], sigma_restart[1:]))

    last_sigma = None
    for step in steps_range(len(step_list), disable):
        old_sigma, new_sigma = step_list[step]
        if last_sigma is None:
            last_sigma = old_sigma
        elif last_sigma < old_sigma:
            # a restart: forward-diffuse from last_sigma back up to old_sigma
            noise = noise_sampler(last_sigma, old_sigma)
            x = x + noise * s_noise * (old_sigma ** 2 - last_sigma ** 2) ** 0.5
        x = heun_step(x, old_sigma, new_sigma)
        last_sigma = new_sigma
    return x


@torch.no_grad()
def sample_lcm(model: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None,
               callback: Callback = None, disable: bool | None = None,
               noise_sampler: NoiseSampler | None = None):
    """Latent consistency model multistep sampling: Luo et al. (2023), "Latent Consistency Models",
    arXiv:2310.04378, Algorithm 1 — jump to the consistency estimate, then re-noise to the next sigma."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in steps_range(len(sigmas) - 1, disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        x = denoised
        if sigmas[i + 1] > 0:
            x = x + sigmas[i + 1] * noise_sampler(sigmas[i], sigmas[i + 1])
    return x
