"""Benchmark: merging a rank-32 LoRA into the full-size SD1.5 UNet, and the cost of using it again.

The UNet is built from ``configs/v1-inference.yaml`` on the meta device and
materialised with random weights (text encoder and VAE stay on meta: a UNet
LoRA never touches them).  The LoRA (rank 32, alpha 16) covers every attention
and feed-forward linear layer and every convolution of the UNet, and is written
to a temporary safetensors file, so the timed first activation is the real path:
read the file, build the patches, merge in float32, write back.  Then:

- a second activation with the same network and multipliers (what every later
  generation with the same prompt tags pays); target: under 5% of the first;
- an activation with another multiplier (re-merge from the backups);
- an activation with no networks (restore the original weights).

Run from the repository root: ``venv/bin/python bench/lora.py [--dtype fp16] [--device cuda]``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modules.models.loader import build_on_meta  # noqa: E402
from modules.models.model_config import bundled_config  # noqa: E402
from modules.networks.lora.layer_index import build_layer_index  # noqa: E402
from modules.networks.lora.lora_networks import LoraNetworks, NetworkRequest  # noqa: E402
from modules.networks.lora.network_files import NetworkFiles  # noqa: E402

RANK, ALPHA = 32, 16.0


def build_unet_model(device: str, dtype: torch.dtype) -> torch.nn.Module:
    model = build_on_meta(bundled_config("v1-inference.yaml"))
    unet = model.model.diffusion_model
    unet.to_empty(device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for p in unet.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, device=device) * 0.02)
    unet.to(dtype).requires_grad_(False)
    return model


def write_lora(model: torch.nn.Module, path: Path) -> tuple[int, int]:
    """One LoRA layer per UNet linear (inside transformers) and conv; returns (layers, parameters)."""
    index = build_layer_index(model)
    gen = torch.Generator().manual_seed(1)
    tensors: dict[str, torch.Tensor] = {}
    for target in index.layers.values():
        if target.is_text_encoder or target.kind not in ("linear", "conv"):
            continue
        if target.kind == "linear" and "transformer_blocks" not in target.name and "proj_" not in target.name:
            continue  # time embedding: not an attention layer
        shape = target.shape
        name = "lora_unet_" + target.name[len("diffusion_model_"):]
        kernel = tuple(shape[2:]) if len(shape) == 4 else ()
        up_shape = (shape[0], RANK, 1, 1) if kernel else (shape[0], RANK)
        tensors[f"{name}.lora_up.weight"] = (torch.randn(up_shape, generator=gen) * 0.01).half()
        tensors[f"{name}.lora_down.weight"] = (torch.randn((RANK, shape[1], *kernel), generator=gen) * 0.01).half()
        tensors[f"{name}.alpha"] = torch.tensor(ALPHA)
    save_file(tensors, str(path))
    return len(tensors) // 3, sum(t.numel() for t in tensors.values())


def timed(fn, device: str) -> float:
    start = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "fp16"])
    parser.add_argument("--repeats", type=int, default=20, help="timed repeats of the unchanged-set activation")
    args = parser.parse_args()
    dtype = torch.float16 if args.dtype == "fp16" else torch.float32
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        model = build_unet_model(args.device, dtype)
        unet_params = sum(p.numel() for p in model.model.diffusion_model.parameters())
        layers, lora_params = write_lora(model, Path(folder) / "bench.safetensors")
        print(f"UNet {unet_params / 1e6:.0f}M params ({args.dtype}, {args.device}); LoRA rank {RANK} on {layers} layers, "
              f"{lora_params / 1e6:.1f}M params; setup {time.perf_counter() - start:.1f} s")
        networks = LoraNetworks(NetworkFiles(lambda: [folder]))
        networks.layer_index(model)  # built once per model, when a model is first used

        first = timed(lambda: networks.activate(model, [NetworkRequest("bench", 1.0)]), args.device)
        again = [timed(lambda: networks.activate(model, [NetworkRequest("bench", 1.0)]), args.device)
                 for _ in range(args.repeats)]
        remerge = timed(lambda: networks.activate(model, [NetworkRequest("bench", 0.5)]), args.device)
        restore = timed(lambda: networks.activate(model, []), args.device)
        reapply = timed(lambda: networks.activate(model, [NetworkRequest("bench", 1.0)]), args.device)
    median_again = statistics.median(again)
    print(f"threads={torch.get_num_threads()}")
    print(f"first activation (read file + merge)   {first:8.3f} s")
    print(f"same set again (median of {args.repeats})        {median_again * 1e3:8.3f} ms")
    print(f"other multiplier (re-merge)            {remerge:8.3f} s")
    print(f"no networks (restore)                  {restore * 1e3:8.3f} ms")
    print(f"back to the first set (cached file)    {reapply:8.3f} s")
    print(f"ratio same-set / first = {median_again / first * 100:.3f}%  (target < 5%)")


if __name__ == "__main__":
    main()
