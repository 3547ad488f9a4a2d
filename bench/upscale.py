"""Benchmark: a 4x ESRGAN (RRDB) upscale through our tiled path vs spandrel's own model call on the same input.

Random weights.  Ours is the whole Extras path of one model pass: picture in,
BGR tensor, tiles of ``--tile`` px overlapping by ``--overlap`` (A1111's
``ESRGAN_tile`` 192 / ``ESRGAN_tile_overlap`` 8), blended picture out.  The
reference is spandrel's descriptor called once on the whole input tensor
(no tiling, no conversions).  Prints output megapixels per second for each
and the ratio ours/spandrel (target >= 0.9).

The default model is RRDB with 64 filters and 6 blocks (the layout of
``RealESRGAN_x4plus_anime_6B``) so that a run takes seconds on two CPU cores;
``--blocks 23`` is the full ESRGAN / ``RealESRGAN_x4plus`` size.  Run from the
repository root: ``venv/bin/python bench/upscale.py [--blocks 23] [--size 256] [--threads 1] [--device cuda]``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modules.postprocess.spandrel_loader import describe_state_dict  # noqa: E402
from modules.postprocess.tiling import upscale_with_model  # noqa: E402


def build_model(blocks: int, device: str) -> object:
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    net = ESRGAN(in_nc=3, out_nc=3, num_filters=64, num_blocks=blocks, scale=4)
    with torch.no_grad():
        for p in net.parameters():
            if p.ndim > 1:  # fan-in scaled: activations stay normal (denormals would slow the CPU down)
                p.normal_(0, 1 / p[0].numel() ** 0.5)
    descriptor = describe_state_dict(net.state_dict(), "bench")
    return descriptor.to(torch.device(device)).eval()


def test_picture(size: int) -> Image.Image:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    arr = np.stack([x / size * 255, y / size * 255, 128 + 100 * np.sin((x + y) / 7)], axis=2)
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--size", type=int, default=256, help="input side in pixels")
    parser.add_argument("--tile", type=int, default=192)
    parser.add_argument("--overlap", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0 = torch's default; 1 gives steadier numbers on a busy machine)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    model = build_model(args.blocks, args.device)
    image = test_picture(args.size)
    tensor = torch.from_numpy(np.ascontiguousarray(np.asarray(image)[:, :, ::-1].transpose(2, 0, 1))
                              ).unsqueeze(0).float().div(255).to(args.device)
    out_mp = (args.size * 4) ** 2 / 1e6

    def ours() -> None:
        upscale_with_model(model, image, tile_size=args.tile, tile_overlap=args.overlap)

    def reference() -> None:
        with torch.inference_mode():
            model(tensor)

    ours()  # warm-up: allocator, kernels for each tile shape
    reference()
    times: dict[str, list[float]] = {"ours (tiled)": [], "spandrel (whole)": []}
    for _ in range(args.runs):  # interleaved, so load from other processes hits both alike
        for name, fn in (("ours (tiled)", ours), ("spandrel (whole)", reference)):
            _sync(args.device)
            start = time.perf_counter()
            fn()
            _sync(args.device)
            times[name].append(time.perf_counter() - start)

    print(f"RRDB 64 filters x {args.blocks} blocks, 4x, input {args.size}x{args.size}, tile {args.tile} "
          f"overlap {args.overlap}, {args.device}, {torch.get_num_threads()} threads")
    rates = {}
    for name, values in times.items():
        best = min(values)
        rates[name] = out_mp / best
        print(f"  {name:18s} best {best:7.2f} s  median {statistics.median(values):7.2f} s  {rates[name]:6.3f} MP/s")
    print(f"ratio ours/spandrel: {rates['ours (tiled)'] / rates['spandrel (whole)']:.2f} (target >= 0.9)")


if __name__ == "__main__":
    main()
