"""Benchmark: loading a ~2 GB fp16 SD1.5-shaped safetensors through our loader vs a plain read of the file.

The file (random fp16 weights under the real SD1.5 keys, plus the usual extra
keys) is generated in a temporary folder and read once to warm the page cache,
so both sides read from memory.  Our loader memory-maps, so the timed load
also touches every page of every weight.  Prints the ratio (target <= 1.3).
``--dtype fp32`` also times the fp16 -> fp32 cast a CPU run needs.
Run from the repository root: ``venv/bin/python bench/load.py [--device cuda]``.
"""
from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modules.models.loader import LoadOptions, build_on_meta, load_model  # noqa: E402
from modules.models.model_config import bundled_config  # noqa: E402
from modules.models.precision import PrecisionOptions  # noqa: E402
from modules.models.schedule import make_alphas_cumprod  # noqa: E402


def write_checkpoint(path: Path) -> int:
    model = build_on_meta(bundled_config("v1-inference.yaml"))
    gen = torch.Generator().manual_seed(0)
    sd = {k: (torch.rand(v.shape, generator=gen, dtype=torch.float32) * 0.02).half()
          for k, v in model.state_dict().items()}
    sd["cond_stage_model.transformer.text_model.embeddings.position_ids"] = torch.arange(77)[None]
    sd["alphas_cumprod"] = make_alphas_cumprod()
    save_file(sd, str(path))
    return sum(v.numel() * v.element_size() for v in sd.values())


def plain_read(path: Path) -> float:
    buffer = bytearray(path.stat().st_size)
    start = time.perf_counter()
    with path.open("rb") as f:
        f.readinto(buffer)
    elapsed = time.perf_counter() - start
    del buffer
    return elapsed


def touch_every_page(model: torch.nn.Module) -> None:
    """Read one element per 4 KiB page so memory-mapped weights are really loaded."""
    for p in model.parameters():
        flat = p.detach().reshape(-1)
        step = max(1, 4096 // flat.element_size())
        flat[::step].float().sum().item()


def our_load(path: Path, device: str, dtype: str) -> tuple[float, float]:
    precision = PrecisionOptions(precision="half") if dtype == "fp16" else PrecisionOptions(no_half=True)
    start = time.perf_counter()
    model = load_model(path, LoadOptions(device=device, precision=precision))
    loaded = time.perf_counter() - start
    if device == "cpu":
        touch_every_page(model)
    elif device.startswith("cuda"):
        torch.cuda.synchronize()
    total = time.perf_counter() - start
    del model
    gc.collect()
    return loaded, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp16", choices=["fp16", "fp32"],
                        help="model dtype after loading (fp16 keeps the file's dtype)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sd15-shaped.safetensors"
        start = time.perf_counter()
        size = write_checkpoint(path)
        print(f"wrote {path.stat().st_size / 1e9:.2f} GB ({size / 1e9:.2f} GB of tensors) "
              f"in {time.perf_counter() - start:.1f} s")
        plain_read(path)  # warm the page cache
        plain, ours, ours_lazy = [], [], []
        for _ in range(args.runs):
            plain.append(plain_read(path))
            lazy, full = our_load(path, args.device, args.dtype)
            ours_lazy.append(lazy)
            ours.append(full)
    best_plain, best_ours = min(plain), min(ours)
    print(f"device={args.device} dtype={args.dtype} threads={torch.get_num_threads()}")
    print(f"plain read       best {best_plain:.3f} s  (runs: {', '.join(f'{v:.3f}' for v in plain)})")
    print(f"our load         best {min(ours_lazy):.3f} s  (until load_model returns)")
    print(f"our load + touch best {best_ours:.3f} s  (runs: {', '.join(f'{v:.3f}' for v in ours)})")
    print(f"ratio ours/plain = {best_ours / best_plain:.3f}  (target <= 1.3)")


if __name__ == "__main__":
    main()
