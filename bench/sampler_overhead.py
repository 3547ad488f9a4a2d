"""Benchmark: per-step overhead of the sampling layer (sampler object + CFG denoiser + eps wrapper) around a cheap
network, against the bare loop a minimal DPM++ 2M implementation would run (the reference, same run, same network).

The network is one 3x3 convolution, so the difference is the layer's own bookkeeping (schedule, batching
cond/uncond, scalings, callbacks, progress bar); with a real UNet (tens to hundreds of ms a step) it disappears in
the network's cost. Prints both times per step, their ratio and the added time per step (target <= 1 ms).
Usage: ``venv/bin/python bench/sampler_overhead.py [--steps N] [--size PX]``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modules.sampling.environment import SamplingEnv  # noqa: E402
from modules.sampling.registry import create_sampler  # noqa: E402
from tests.sampling.helpers import make_alphas_cumprod  # noqa: E402


class ConvModel:
    """The LDM contract around one convolution."""

    parameterization = "eps"
    is_sdxl = False
    cond_stage_key = "crossattn"
    conditioning_key = "crossattn"

    def __init__(self) -> None:
        self.alphas_cumprod = make_alphas_cumprod()
        self.conv = torch.nn.Conv2d(4, 4, 3, padding=1)

    @torch.no_grad()
    def apply_model(self, x, t, cond):
        return self.conv(x) * 0.1 + cond["c_crossattn"][0][:, :1, :1, None].mean() * 0


class P:
    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.cfg_scale = 7.0
        self.scheduler = None
        self.eta = None
        self.extra_generation_params: dict = {}
        self.sampler_noise_scheduler_override = None


@torch.no_grad()
def reference(model: ConvModel, x: torch.Tensor, sigmas: torch.Tensor, cond, uncond) -> torch.Tensor:
    """DPM++ 2M with batched CFG, written as plainly as possible."""
    log_sigmas = ((1 - model.alphas_cumprod) / model.alphas_cumprod).sqrt().log()
    old = None
    for i in range(len(sigmas) - 1):
        sigma = sigmas[i]
        context = torch.cat([cond, uncond])  # per step: scheduled prompts change the conds between steps
        t = torch.argmin((log_sigmas - sigma.log()).abs()).float().expand(2 * x.shape[0])
        x_in = torch.cat([x, x]) / (sigma ** 2 + 1) ** 0.5
        eps = model.apply_model(x_in, t, {"c_crossattn": [context]})
        e_c, e_u = eps.chunk(2)
        denoised = x - sigma * (e_u + 7.0 * (e_c - e_u))
        h = sigma.log() - sigmas[i + 1].clamp(min=1e-8).log()
        if old is None or sigmas[i + 1] == 0:
            x = (sigmas[i + 1] / sigma) * x + (1 - sigmas[i + 1] / sigma) * denoised
        else:
            h_last = sigmas[i - 1].log() - sigma.log()
            r = h_last / h
            d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old
            x = (sigmas[i + 1] / sigma) * x + (1 - sigmas[i + 1] / sigma) * d
        old = denoised
    return x


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    # one thread: on CPU, thread-pool wake-ups after each convolution otherwise dominate and vary from run to run
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = ConvModel()
    latent = args.size // 8
    x = torch.randn(1, 4, latent, latent)
    cond, uncond = torch.randn(1, 77, 768), torch.randn(1, 77, 768)

    ours, ref = [], []
    for _ in range(args.runs):
        sampler = create_sampler("DPM++ 2M", model, SamplingEnv())
        start = time.perf_counter()
        sampler.sample(P(args.steps), x, cond, uncond)
        ours.append((time.perf_counter() - start) / args.steps)
        sigmas = sampler.get_sigmas(P(args.steps), args.steps)
        start = time.perf_counter()
        reference(model, x * sigmas[0], sigmas, cond, uncond)
        ref.append((time.perf_counter() - start) / args.steps)

    ours_ms, ref_ms = statistics.median(ours) * 1e3, statistics.median(ref) * 1e3
    added = ours_ms - ref_ms
    print(f"sampling layer: {ours_ms:.2f} ms/step; bare loop: {ref_ms:.2f} ms/step; ratio {ours_ms / ref_ms:.2f}; "
          f"added {added:.2f} ms/step ({'ok' if added <= 1.0 else 'over'} the 1 ms target)")


if __name__ == "__main__":
    main()
