"""Benchmark: one CFG step (batch 2) of the full-size SD1.5 UNet, ours vs diffusers on the same weights.

Random weights; both models share the tensors.  Prints seconds per step for
each and the ratio ours/diffusers (target <= 1.0).  Run from the repository
root: ``venv/bin/python bench/unet_step.py [--device cuda --dtype fp16]``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modules.models.loader import build_on_meta  # noqa: E402
from modules.models.model_config import bundled_config, read_config  # noqa: E402

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def random_unet_weights(model: torch.nn.Module, device: str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    gen = torch.Generator(device="cpu").manual_seed(0)
    return {k: (torch.randn(v.shape, generator=gen) * 0.02).to(device, dtype)
            for k, v in model.model.diffusion_model.state_dict().items()}


def build_pair(device: str, dtype: torch.dtype):
    from diffusers import UNet2DConditionModel
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, create_unet_diffusers_config_from_ldm

    config_path = bundled_config("v1-inference.yaml")
    model = build_on_meta(config_path)
    weights = random_unet_weights(model, device, dtype)
    ours = model.model.diffusion_model
    ours.load_state_dict(weights, strict=True, assign=True)
    ours.eval().requires_grad_(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = create_unet_diffusers_config_from_ldm(read_config(config_path), {}, image_size=512)
    with torch.device("meta"):
        reference = UNet2DConditionModel(**config)
    prefixed = {"model.diffusion_model." + k: v for k, v in weights.items()}
    reference.load_state_dict(convert_ldm_unet_checkpoint(prefixed, config), strict=True, assign=True)
    reference.eval().requires_grad_(False)
    return ours, reference


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_interleaved(fns: dict[str, object], device: str, warmup: int, runs: int) -> dict[str, list[float]]:
    """Alternate the candidates run by run so that load from other processes hits both alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(warmup + runs):
        for name, fn in fns.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    parser.add_argument("--latent", type=int, default=64, help="latent side (64 = 512 px)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = DTYPES[args.dtype]
    ours, reference = build_pair(args.device, dtype)
    torch.manual_seed(0)
    x = torch.randn(2, 4, args.latent, args.latent, device=args.device, dtype=dtype)
    t = torch.tensor([500.0, 500.0], device=args.device)
    context = torch.randn(2, 77, 768, device=args.device, dtype=dtype)
    with torch.inference_mode():
        diff = (ours(x, t, context=context).float() - reference(x, t, encoder_hidden_states=context).sample.float())
        times = time_interleaved({"ours": lambda: ours(x, t, context=context),
                                  "diffusers": lambda: reference(x, t, encoder_hidden_states=context)},
                                 args.device, args.warmup, args.runs)
    our_times, ref_times = times["ours"], times["diffusers"]
    # The minimum is the least disturbed run; the median is printed too.
    ours_s, ref_s = min(our_times), min(ref_times)
    print(f"device={args.device} dtype={args.dtype} latent={args.latent} batch=2 threads={torch.get_num_threads()}")
    print(f"max |ours - diffusers| = {diff.abs().max().item():.3g}")
    for name, best, runs in (("ours", ours_s, our_times), ("diffusers", ref_s, ref_times)):
        print(f"{name:9s} best {best:.3f} s/step, median {statistics.median(runs):.3f} "
              f"(runs: {', '.join(f'{v:.3f}' for v in runs)})")
    print(f"ratio ours/diffusers = {ours_s / ref_s:.3f}  (target <= 1.0)")


if __name__ == "__main__":
    main()
