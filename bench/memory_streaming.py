"""Benchmark: sampling time of the full-size SD1.5 model streamed block by block against resident, on the CPU.

The CPU stands in for a small device (the memory manager's ``copy_on_cpu``: every streamed unit is copied
in before it runs and dropped after, as on a GPU), so the cost measured is the manager's own: hooks, copies,
bookkeeping.  One process, one model, each mode's jobs alternating with resident ones
(after one untimed job that fills the mode's copy buffers): resident (no manager), ``--lowvram``
(the UNet streamed one block at a time), ``--medvram`` (parts swapped) and the automatic policy with a budget
that keeps about half the UNet resident.  Each run is what a 64x64 job does: a prompt encoded, ``--steps``
UNet calls at batch 2 (CFG), one VAE decode.  Prints seconds per run and the ratio to resident (target: the
streamed ``--lowvram`` run at most 1.3x the resident one).
Usage: ``venv/bin/python bench/memory_streaming.py [--ckpt FILE] [--steps 4] [--rounds 2] [--threads N]``;
without ``--ckpt`` the checkpoint is generated with ``../shared/tools/make_random_ckpt.py`` (needs ~6 GB).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from modules.models.loader import load_model  # noqa: E402
from modules.models.memory.placement import MemoryManager  # noqa: E402
from modules.models.memory.policy import DeviceBudget, Mode  # noqa: E402
from modules.models.memory.units import part_sizes  # noqa: E402

SHARED = Path(os.environ.get("WEBUI_SHARED_DIR", ROOT.parent / "shared"))


def generated_checkpoint(folder: Path) -> Path:
    path = folder / "random-sd15.safetensors"
    tool = SHARED / "tools" / "make_random_ckpt.py"
    subprocess.run([sys.executable, str(tool), str(SHARED / "tools" / "keys" / "sd15_keys.json"), str(path)],
                   check=True, stdout=subprocess.DEVNULL)
    return path


def job(model, steps: int) -> None:
    with torch.no_grad():
        cond = model.get_learned_conditioning(["a photo of a cat", ""])
        x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
        for step in range(steps):
            x = x - 0.05 * model.apply_model(x, torch.full((2,), 999.0 - 250 * step), {"c_crossattn": [cond]})
        model.decode_first_stage(x[:1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", help="a full-size SD1.5 checkpoint (default: generate one)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        ckpt = Path(args.ckpt) if args.ckpt else generated_checkpoint(Path(folder))
        model = load_model(ckpt)
    sizes = part_sizes(model)
    streaming = max(sizes.text_encoder, sizes.vae, 2 * max(sizes.blocks.values()))
    budgets = {"auto (half the UNet)": (Mode.AUTO, DeviceBudget(free=sizes.unet_core + sizes.unet // 2 + streaming,
                                                                   total=0)),
               "--lowvram": (Mode.LOWVRAM, None), "--medvram": (Mode.MEDVRAM, None)}
    times: dict[str, list[float]] = {name: [] for name in budgets}
    resident: dict[str, list[float]] = {name: [] for name in budgets}  # the resident jobs beside each mode's
    moved: dict[str, float] = {}

    def timed(memory: MemoryManager | None) -> float:
        if memory is not None:
            memory.attach(model)
        start = time.perf_counter()
        job(model, args.steps)
        elapsed = time.perf_counter() - start
        if memory is not None:
            memory.rest()
            memory.detach(model)
        return elapsed

    for name, (mode, budget) in budgets.items():
        # one manager for the mode's jobs, as the server keeps one: its copy buffers are reused from job to job
        # (the first job fills them and is not timed); the resident job runs between them, alternately
        memory = MemoryManager("cpu", opts=SimpleNamespace(memory_reserve_mb=0), log=lambda line: None)
        memory.configure(mode=mode, budget=budget or DeviceBudget(free=2 ** 40, total=2 ** 40), copy_on_cpu=True)
        timed(memory)
        before = memory.bytes_moved
        for _ in range(args.rounds):
            resident[name].append(timed(None))
            times[name].append(timed(memory))
        moved[name] = (memory.bytes_moved - before) / args.rounds / 2 ** 30
        memory.copy_pool.clear()
    print(f"full-size SD1.5, fp32 CPU, {torch.get_num_threads()} threads, {args.steps} UNet calls at batch 2 "
          f"(64x64) + encode + decode, median of {args.rounds}; each mode against the resident jobs run "
          "alternately with it")
    print("| mode | s per job | resident s per job | ratio | GB copied per job |\n|---|---|---|---|---|")
    ratios = {}
    for name, values in times.items():
        mine, base = statistics.median(values), statistics.median(resident[name])
        ratios[name] = mine / base
        print(f"| {name} | {mine:.2f} | {base:.2f} | {ratios[name]:.3f} | {moved.get(name, 0.0):.2f} |")
    print(f"target: --lowvram ratio <= 1.3; measured {ratios['--lowvram']:.3f}")

if __name__ == "__main__":
    main()
