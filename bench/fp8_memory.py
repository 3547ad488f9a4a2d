"""Benchmark: resident memory of a full-size SDXL server on the CPU with and without FP8 weight storage.

Each side starts the app in a fresh process the way ``webui.py --nowebui --use-cpu all --no-half`` does
(bootstrap, checkpoint list, model loaded at start), with setting ``fp8_storage`` "Disable" or "Enable"
in the data dir's ``config.json``, then reports its resident set (``VmRSS``, after a garbage collection
and ``malloc_trim``) and its peak (``VmHWM``).  The ratio printed is FP8 / without, measured in the same
run; the target is at most 6 GB resident with FP8 (A1111's SDXL server on this CPU holds about 15 GB).

SDXL without FP8 needs about 16 GB: run under ``flock /tmp/bigmem.lock``.
Usage: ``venv/bin/python bench/fp8_memory.py [--dir /tmp/fullsize] [--family sdxl]``;
without ``--dir`` the file is generated with ``../shared/tools/make_random_ckpt.py`` in a temporary folder.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def memory_gb() -> dict[str, float]:
    """This process's ``VmRSS`` and ``VmHWM`` in GB (10^9 bytes)."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024 / 1e9
    return values


def child(data_dir: Path) -> None:
    """Start the server on ``data_dir`` (its config.json says the FP8 mode); print one JSON line."""
    import torch

    from modules import shared
    from modules.runtime.bootstrap import initialize

    initialize(["--data-dir", str(data_dir), "--nowebui", "--use-cpu", "all", "--no-half", "--no-hashing"])
    model = shared.sd_model
    assert model is not None, "the checkpoint did not load"
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    fp8_layers = sum(1 for p in model.parameters() if p.dtype == getattr(torch, "float8_e4m3fn", None))
    weights = sum(t.nbytes for t in [*model.parameters(), *model.buffers()]) / 1e9
    print("RESULT " + json.dumps({"family": model.family, "fp8": bool(getattr(model, "fp8", False)),
                                  "fp8_tensors": fp8_layers, "weights_gb": weights, **memory_gb()}), flush=True)


def measure(data_dir: Path, mode: str) -> dict:
    (data_dir / "config.json").write_text(json.dumps({"fp8_storage": mode}))
    out = subprocess.run([sys.executable, __file__, "--child", str(data_dir)], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"server with fp8_storage={mode} failed ({out.returncode}):\n{out.stderr[-4000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="folder with random-<family>.safetensors (default: generate it)")
    parser.add_argument("--family", default="sdxl", choices=["sd15", "sdxl"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child))
        return

    from tests.fullsize.conftest import FullsizeCheckpoints

    with tempfile.TemporaryDirectory(prefix="bench-fp8-memory-") as tmp:
        store = FullsizeCheckpoints(Path(args.dir) if args.dir else Path(tmp) / "checkpoints")
        data_dir = Path(tmp) / "data"
        store.install(args.family, data_dir)
        rows = {mode: measure(data_dir, mode) for mode in ("Disable", "Enable")}
    for mode, row in rows.items():
        print(f"{args.family} fp8_storage={mode:8s} model {row['family']}, fp8 {row['fp8']} "
              f"({row['fp8_tensors']} fp8 tensors), weights {row['weights_gb']:.2f} GB: "
              f"resident {row['VmRSS']:.2f} GB, peak {row['VmHWM']:.2f} GB", flush=True)
    off, on = rows["Disable"], rows["Enable"]
    print(f"ratio resident fp8/without {on['VmRSS'] / off['VmRSS']:.3f} ({on['VmRSS']:.2f} GB vs {off['VmRSS']:.2f} GB); "
          f"peak {on['VmHWM'] / off['VmHWM']:.3f}; target: <= 6 GB with fp8 (A1111 ~15 GB)")


if __name__ == "__main__":
    main()
