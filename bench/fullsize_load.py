"""Benchmark: full-size checkpoint load to a ready model, per family, against a plain safetensors read + cast.

For each family (sd15, sd15-inpainting, sd2v, sdxl, sdxl-refiner) the checkpoint is loaded the way the
server loads it: the bootstrap builds the app for a data dir holding only that checkpoint, then the model
manager loads it (hash, config detection, weights, fp32 cast on the CPU, extension and text-path hooks).
The first load computes the sha256; the timed one is a second start with the hash in the cache, as every
later start of the web UI is.  The reference, measured in the same run, is
``safetensors.torch.load_file`` of the same file with every tensor cast to fp32 (the CPU dtype).

Every measurement runs in a fresh child process (clean memory: an SDXL model in fp32 is 14 GB), after a
plain read of the file has warmed the page cache.  Run SDXL under ``flock /tmp/bigmem.lock``.
Usage: ``venv/bin/python bench/fullsize_load.py [--dir /tmp/fullsize] [--families sd15 sdxl] [--runs 2]``;
without ``--dir`` the files are generated with ``../shared/tools/make_random_ckpt.py`` in a temporary folder.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ALL_FAMILIES = ["sd15", "sd15-inpainting", "sd2v", "sdxl", "sdxl-refiner"]


def warm_page_cache(path: Path) -> None:
    """Read the whole file once, so both sides start from memory rather than from the disk."""
    with path.open("rb") as f:
        while f.read(64 << 20):
            pass


def reference_load(path: Path) -> float:
    """Seconds for ``load_file`` plus an fp32 cast of every floating tensor (one at a time: peak = fp32 size)."""
    import torch
    from safetensors.torch import load_file

    start = time.perf_counter()
    sd = load_file(str(path))
    for key in list(sd):
        if sd[key].is_floating_point():
            sd[key] = sd[key].float()
    elapsed = time.perf_counter() - start
    assert all(t.dtype == torch.float32 for t in sd.values() if t.is_floating_point())
    return elapsed


def our_load(data_dir: Path, extra_flags: list[str]) -> dict[str, float | str]:
    """Start the app on ``data_dir`` without a model, then time the model manager loading its checkpoint.

    The model code (torch, transformers) is imported before the clock starts, as the reference's is:
    importing it is start-up time, not load time, and it is printed apart.
    """
    start = time.perf_counter()
    import modules.models.manager  # noqa: F401  (torch, transformers' CLIP, the network classes)
    imports = time.perf_counter() - start
    from modules import shared
    from modules.runtime.bootstrap import initialize, model_manager

    initialize(["--data-dir", str(data_dir), "--nowebui", "--skip-load-model-at-start", *extra_flags])
    info = shared.checkpoints.select()
    hashed_before = info.sha256 is not None
    start = time.perf_counter()
    model = model_manager().reload_model_weights()
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "imports": imports, "family": model.family, "hash_cached": hashed_before,
            "dtype": str(next(model.parameters()).dtype)}


def child(args: argparse.Namespace) -> None:
    """One measurement in this fresh process; prints one JSON line."""
    data_dir = Path(args.data_dir)
    checkpoint = next((data_dir / "models" / "Stable-diffusion").glob("*.safetensors")).resolve()
    warm_page_cache(checkpoint)
    gc.collect()
    if args.child == "reference":
        result: dict[str, float | str] = {"seconds": reference_load(checkpoint)}
    else:
        result = our_load(data_dir, args.flags.split())
    print("RESULT " + json.dumps(result), flush=True)


def measure(kind: str, data_dir: Path, flags: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--data-dir", str(data_dir), "--flags", flags],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} load failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def bench_family(family: str, store, work: Path, runs: int, flags: str) -> dict:
    data_dir = work / family
    store.install(family, data_dir)
    first = measure("ours", data_dir, flags)  # computes the sha256 and caches it in the data dir
    refs, ours = [], []
    for _ in range(runs):  # alternate, so drift from other work on the machine hits both sides
        refs.append(measure("reference", data_dir, flags)["seconds"])
        second = measure("ours", data_dir, flags)
        assert second["hash_cached"], "the second start should find the sha256 in the cache"
        ours.append(second["seconds"])
    size = store.path(family).stat().st_size
    return {"family": family, "model": first["family"], "gb": size / 1e9, "first": first["seconds"],
            "imports": first["imports"],
            "ours": statistics.median(ours), "reference": statistics.median(refs),
            "ours_runs": ours, "reference_runs": refs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="folder with the random-<family>.safetensors files (default: generate them)")
    parser.add_argument("--families", nargs="+", default=ALL_FAMILIES, choices=ALL_FAMILIES)
    parser.add_argument("--runs", type=int, default=2, help="timed loads per side and family")
    parser.add_argument("--flags", default="--use-cpu all", help="extra web UI flags for our side")
    parser.add_argument("--child", choices=["reference", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from tests.fullsize.conftest import FullsizeCheckpoints

    with tempfile.TemporaryDirectory(prefix="bench-fullsize-load-") as tmp:
        store = FullsizeCheckpoints(Path(args.dir) if args.dir else Path(tmp) / "checkpoints")
        for family in args.families:
            row = bench_family(family, store, Path(tmp), args.runs, args.flags)
            print(f"{family:16s} {row['gb']:5.2f} GB fp16 file -> {row['model']}: first load (hashing) "
                  f"{row['first']:6.2f} s; cached hash {row['ours']:6.2f} s vs load_file+float {row['reference']:6.2f} s "
                  f"-> ratio {row['ours'] / row['reference']:.2f}  (imports before the clock {row['imports']:.1f} s; "
                  f"runs ours {', '.join(f'{v:.2f}' for v in row['ours_runs'])}; "
                  f"ref {', '.join(f'{v:.2f}' for v in row['reference_runs'])})", flush=True)
    print(f"cpu threads: {os.cpu_count()}; median of {args.runs} alternating runs per side, each in a fresh process")


if __name__ == "__main__":
    main()
