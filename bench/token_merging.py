"""Benchmark: one CFG step (batch 2) of the full-size SD1.5 UNet at 512x512, token merging ratio 0.5 vs 0.

Random weights on the real module tree; the same UNet instance runs with token merging on and off,
alternately, in one process. Prints seconds per step for each, the ratio plain/merged (target >= 1.3:
ToMe at 0.5 on a 512x512 SD1.5 step at least 1.3x faster) and how far the merged output is from the
plain one. Run from the repository root: ``venv/bin/python bench/token_merging.py [--device cuda --dtype fp16]``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modules.models.loader import build_on_meta  # noqa: E402
from modules.models.model_config import bundled_config  # noqa: E402
from modules.models.token_merging import token_merging  # noqa: E402

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def full_size_unet(device: str, dtype: torch.dtype) -> torch.nn.Module:
    """The SD1.5 UNet of the bundled ``v1-inference.yaml`` with seeded random weights."""
    unet = build_on_meta(bundled_config("v1-inference.yaml")).model.diffusion_model
    gen = torch.Generator(device="cpu").manual_seed(0)
    weights = {k: (torch.randn(v.shape, generator=gen) * 0.02).to(device, dtype) for k, v in unet.state_dict().items()}
    unet.load_state_dict(weights, strict=True, assign=True)
    return unet.eval().requires_grad_(False)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    parser.add_argument("--latent", type=int, default=64, help="latent side (64 = 512 px)")
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = DTYPES[args.dtype]
    unet = full_size_unet(args.device, dtype)
    torch.manual_seed(0)
    x = torch.randn(2, 4, args.latent, args.latent, device=args.device, dtype=dtype)
    t = torch.tensor([500.0, 500.0], device=args.device)
    context = torch.randn(2, 77, 768, device=args.device, dtype=dtype)

    times: dict[float, list[float]] = {0.0: [], args.ratio: []}
    outputs: dict[float, torch.Tensor] = {}
    with torch.inference_mode():
        # alternate run by run so that load from other processes hits both alike
        for i in range(args.warmup + args.runs):
            for ratio in times:
                with token_merging(unet, ratio):
                    _sync(args.device)
                    start = time.perf_counter()
                    outputs[ratio] = unet(x, t, context=context)
                    _sync(args.device)
                if i >= args.warmup:
                    times[ratio].append(time.perf_counter() - start)
    plain, merged = outputs[0.0].float(), outputs[args.ratio].float()
    relative = ((merged - plain).norm() / plain.norm()).item()
    print(f"device={args.device} dtype={args.dtype} latent={args.latent} batch=2 threads={torch.get_num_threads()}")
    for ratio, runs in times.items():
        print(f"ratio {ratio:.2f}: best {min(runs):.3f} s/step, median {statistics.median(runs):.3f} "
              f"(runs: {', '.join(f'{v:.3f}' for v in runs)})")
    print(f"relative L2 difference of the UNet output, merged vs plain: {relative:.4f}")
    # the minimum is the least disturbed run
    print(f"speed-up plain/merged = {min(times[0.0]) / min(times[args.ratio]):.3f}  (target >= 1.3)")


if __name__ == "__main__":
    main()
