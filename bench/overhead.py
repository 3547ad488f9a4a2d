"""Benchmark: time a tiny-model txt2img request spends outside the networks.

Builds a tiny SD1 checkpoint (real key layout, small widths), runs txt2img end
to end through ``process_images`` and measures, per request, the wall time of
the UNet, the text encoder and the VAE; the rest is our overhead (prompt
parsing, schedules, CFG batching, RNG, PNG encoding, infotext, saving).
Prints the overhead in ms (target < 50 ms) and the UNet's share of the
sampling loop, against the whole request measured in the same run.

Usage: ``venv/bin/python bench/overhead.py [--runs N] [--steps N]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


class Clock:
    """Accumulates wall time of wrapped calls by name."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.totals[name] = self.totals.get(name, 0.0) + time.perf_counter() - start
        return timed


@contextmanager
def instrumented(model, clock: Clock):
    """Time the UNet forward, the text encoder and VAE encode/decode of ``model`` (instance attributes only)."""
    unet = model.model.diffusion_model
    vae = model.first_stage_model
    # the text encoder is timed at the model's entry point: it includes tokenizing, as A1111's hijack does
    originals = [(unet, "forward", unet.forward), (model, "get_learned_conditioning", model.get_learned_conditioning),
                 (vae, "decode", vae.decode), (vae, "encode", vae.encode)]
    unet.forward = clock.wrap("unet", unet.forward)
    model.get_learned_conditioning = clock.wrap("text encoder", model.get_learned_conditioning)
    vae.decode = clock.wrap("vae", vae.decode)
    vae.encode = clock.wrap("vae", vae.encode)
    try:
        yield
    finally:
        for obj, name, fn in originals:
            setattr(obj, name, fn)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()

    from modules import shared
    from modules.models.tiny_factory import make_tiny_checkpoint
    from modules.processing import StableDiffusionProcessingTxt2Img, process_images
    from modules.runtime.bootstrap import initialize

    data = tempfile.mkdtemp(prefix="bench-overhead-")
    make_tiny_checkpoint("sd1", os.path.join(data, "models", "Stable-diffusion"))
    initialize(["--data-dir", data, "--disable-console-progressbars"])
    shared.opts.set("samples_save", True)

    def request():
        p = StableDiffusionProcessingTxt2Img(prompt="a (photo:1.2) of a cat, [dog:cat:0.5]", negative_prompt="blurry",
                                             steps=args.steps, width=64, height=64, seed=1, sampler_name="Euler a")
        return process_images(p)

    request()  # warm-up: first-call allocations, lazily built grammars
    totals, overheads, unet_shares = [], [], []
    for _ in range(args.runs):
        clock = Clock()
        with instrumented(shared.sd_model, clock):
            start = time.perf_counter()
            request()
            total = time.perf_counter() - start
        networks = sum(clock.totals.values())
        totals.append(total)
        overheads.append(total - networks)
        unet_shares.append(clock.totals.get("unet", 0.0) / max(total - clock.totals.get("vae", 0.0)
                                                               - clock.totals.get("text encoder", 0.0), 1e-9))
    overhead_ms = statistics.median(overheads) * 1000
    print(f"request (tiny SD1, 64x64, {args.steps} steps): median {statistics.median(totals) * 1000:.1f} ms")
    print(f"outside UNet / text encoder / VAE: median {overhead_ms:.1f} ms per request "
          f"(target < 50 ms: {'met' if overhead_ms < 50 else 'NOT met'})")
    print(f"UNet share of the sampling loop: {statistics.median(unet_shares) * 100:.1f}%")
    print(f"ratio overhead/request: {statistics.median(overheads) / statistics.median(totals):.3f}")


if __name__ == "__main__":
    main()
