"""Benchmark: every GPU check of issue 16 in one run, printed as one table (run by ``bench/gpu.sh``).

Rows (each measured in a fresh process, so flags and peak memory are its own):

* SD1.5 512x512 txt2img, batch 1, Euler, CFG 7: our pipeline eager, with ``--compile-unet``, and
  diffusers' ``StableDiffusionPipeline`` built offline from the same generated checkpoint (UNet and VAE
  converted by diffusers' single-file converters, the scheduler diffusers' Euler; the prompt embeddings
  are handed in, so no tokenizer files are needed) as the reference, in the same run;
* SD1.5 and SDXL (1024x1024) under each memory policy: automatic (no flag), ``--medvram``, ``--lowvram``;
* SDXL with FP8 weight storage (setting ``fp8_storage`` = Enable) against without;
* the model load time of every process (bootstrap with the checkpoint, hash skipped).

it/s is the marginal rate ``(N - 1) / (T(N steps) - T(1 step))`` of whole generations, for ours and for
diffusers alike: text encoding, VAE decode and per-job overhead cancel out.  Each case generates once
first (warm-up; the compiled case compiles its shapes there).  Peak VRAM is
``torch.cuda.max_memory_allocated`` over the measured generations.  A case that fails (a policy or a
setting this build lacks, out of memory) prints ``n/a`` with the first line of its error.

Checkpoints are random weights with the real key layouts, written by ``make_random_ckpt.py``
(``../shared/tools``, or ``$WEBUI_SHARED_DIR/tools``); nothing is downloaded.  Without CUDA it runs a
reduced CPU mode: tiny random checkpoints of the same families, 64x64, 4 steps, fp32, no VRAM column,
to show that every case runs.

Usage: ``venv/bin/python bench/gpu_bench.py [--cpu] [--ckpt-dir DIR] [--steps N]``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED = Path(os.environ.get("WEBUI_SHARED_DIR", ROOT.parent / "shared"))
KEYS = {"sd15": "sd15_keys.json", "sdxl": "sdxl_keys.json"}
TINY = {"sd15": "sd1", "sdxl": "sdxl"}
REPEATS = 3
PROMPT, NEGATIVE = "a photograph of an astronaut riding a horse", "blurry, low quality"


@dataclass
class Case:
    name: str
    family: str
    engine: str = "ours"  # "ours" or "diffusers"
    flags: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)


def cases(cuda: bool) -> list[Case]:
    out = [Case("SD1.5 eager", "sd15"), Case("SD1.5 compiled", "sd15", flags=["--compile-unet"]),
           Case("SD1.5 diffusers (reference)", "sd15", engine="diffusers"),
           Case("SD1.5 --medvram", "sd15", flags=["--medvram"]), Case("SD1.5 --lowvram", "sd15", flags=["--lowvram"]),
           Case("SDXL automatic", "sdxl"), Case("SDXL --medvram", "sdxl", flags=["--medvram"]),
           Case("SDXL --lowvram", "sdxl", flags=["--lowvram"]),
           Case("SDXL FP8 storage", "sdxl", settings={"fp8_storage": "Enable"})]
    return out


# --- one case, in its own process ---------------------------------------------------------------------

def _sync(torch, cuda: bool) -> None:
    if cuda:
        torch.cuda.synchronize()


def _timed(fn, torch, cuda: bool) -> float:
    _sync(torch, cuda)
    start = time.perf_counter()
    fn()
    _sync(torch, cuda)
    return time.perf_counter() - start


def run_ours(case: Case, ckpt: Path, size: int, steps: int, cuda: bool) -> dict:
    import torch

    from modules import shared
    from modules.processing import StableDiffusionProcessingTxt2Img, process_images
    from modules.runtime.bootstrap import initialize

    data_dir = Path(tempfile.mkdtemp(prefix="gpu-bench-data-"))
    device_flags = [] if cuda else ["--use-cpu", "all", "--no-half"]
    start = time.perf_counter()
    initialize(["--data-dir", str(data_dir), "--nowebui", "--no-hashing", "--ckpt", str(ckpt), *device_flags,
                *case.flags])
    load_s = time.perf_counter() - start
    if shared.sd_model is None:
        raise RuntimeError("the checkpoint did not load")

    def generate(n: int) -> None:
        p = StableDiffusionProcessingTxt2Img(prompt=PROMPT, negative_prompt=NEGATIVE, steps=n, width=size,
                                             height=size, seed=1, sampler_name="Euler", cfg_scale=7,
                                             override_settings=dict(case.settings), do_not_save_samples=True,
                                             do_not_save_grid=True)
        process_images(p)

    warmup = _timed(lambda: generate(steps), torch, cuda)
    generate(1)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    # the least disturbed of a few runs of each length (other processes share the machine)
    t_n = min(_timed(lambda: generate(steps), torch, cuda) for _ in range(REPEATS))
    t_1 = min(_timed(lambda: generate(1), torch, cuda) for _ in range(REPEATS))
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else None
    return dict(it_s=(steps - 1) / (t_n - t_1), warmup_s=warmup, load_s=load_s, peak_gb=peak)


def run_diffusers(ckpt: Path, size: int, steps: int, cuda: bool) -> dict:
    """diffusers' own pipeline on the same weights; the prompt embeddings come from our text encoder."""
    import warnings

    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.loaders import single_file_utils as sfu
    from safetensors.torch import load_file

    from modules.models.loader import load_model, LoadOptions
    from modules.models.model_config import read_config

    device, dtype = ("cuda", torch.float16) if cuda else ("cpu", torch.float32)
    start = time.perf_counter()
    state = load_file(str(ckpt))
    ours = load_model(str(ckpt), LoadOptions(device=torch.device("cpu")))
    config_yaml = read_config(ours.config_path)
    with torch.no_grad():
        cond = ours.get_learned_conditioning([PROMPT]).to(device, dtype)
        uncond = ours.get_learned_conditioning([NEGATIVE]).to(device, dtype)
    del ours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unet_config = sfu.create_unet_diffusers_config_from_ldm(config_yaml, state, image_size=size // 8)
        vae_config = sfu.create_vae_diffusers_config_from_ldm(config_yaml, state, image_size=size)
    with torch.device("meta"):
        unet, vae = UNet2DConditionModel(**unet_config), AutoencoderKL(**vae_config)
    unet.load_state_dict(sfu.convert_ldm_unet_checkpoint(state, unet_config), strict=True, assign=True)
    vae.load_state_dict(sfu.convert_ldm_vae_checkpoint(state, vae_config), strict=True, assign=True)
    del state
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       num_train_timesteps=1000, steps_offset=1, timestep_spacing="leading")
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=None, tokenizer=None, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe = pipe.to(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    load_s = time.perf_counter() - start
    generator = torch.Generator(device).manual_seed(1)

    def generate(n: int) -> None:
        pipe(prompt_embeds=cond, negative_prompt_embeds=uncond, num_inference_steps=n, guidance_scale=7,
             height=size, width=size, generator=generator, output_type="pil")

    warmup = _timed(lambda: generate(steps), torch, cuda)
    generate(1)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    # the least disturbed of a few runs of each length (other processes share the machine)
    t_n = min(_timed(lambda: generate(steps), torch, cuda) for _ in range(REPEATS))
    t_1 = min(_timed(lambda: generate(1), torch, cuda) for _ in range(REPEATS))
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else None
    return dict(it_s=(steps - 1) / (t_n - t_1), warmup_s=warmup, load_s=load_s, peak_gb=peak)


def child(args: argparse.Namespace) -> None:
    case = Case(**json.loads(args.case))
    cuda = not args.cpu
    if not cuda:
        import torch

        torch.set_num_threads(1)  # the CPU mode shares a small machine: one thread is the least disturbed
    if case.engine == "diffusers":
        result = run_diffusers(Path(args.ckpt), args.size, args.steps, cuda)
    else:
        result = run_ours(case, Path(args.ckpt), args.size, args.steps, cuda)
    print("RESULT " + json.dumps(result), flush=True)


# --- the parent: checkpoints, one process per case, the table ------------------------------------------

def checkpoint(family: str, folder: Path, cpu: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if cpu:
        from modules.models.tiny_factory import make_tiny_checkpoint

        path = folder / f"tiny-{family}.safetensors"
        if not path.exists():
            make_tiny_checkpoint(TINY[family], folder, name=f"tiny-{family}")
        return path
    path = folder / f"random-{family}.safetensors"
    if not path.exists():
        tool = SHARED / "tools" / "make_random_ckpt.py"
        if not tool.exists():
            raise SystemExit(f"the checkpoint generator is not at {tool} (set WEBUI_SHARED_DIR)")
        partial = path.with_suffix(f".{os.getpid()}.partial")
        subprocess.run([sys.executable, str(tool), str(SHARED / "tools" / "keys" / KEYS[family]), str(partial)],
                       check=True, stdout=subprocess.DEVNULL)
        partial.rename(path)
    return path


def run_case(case: Case, ckpt: Path, args: argparse.Namespace, size: int, steps: int, timeout: float) -> dict:
    command = [sys.executable, __file__, "--child", "--case", json.dumps(case.__dict__), "--ckpt", str(ckpt),
               "--size", str(size), "--steps", str(steps)] + (["--cpu"] if args.cpu else [])
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return dict(error=f"over {timeout:.0f} s")
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    lines = [ln for ln in (done.stderr or done.stdout).strip().splitlines() if ln.strip()]
    return dict(error=lines[-1][:100] if lines else f"exit {done.returncode}")


def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def table(rows: list[tuple[Case, dict]], reference: dict | None, cuda: bool) -> str:
    lines = ["| case | it/s | vs diffusers | peak VRAM GB | load s | first run s | note |",
             "|---|---|---|---|---|---|---|"]
    for case, r in rows:
        if "error" in r:
            lines.append(f"| {case.name} | n/a | | n/a | n/a | n/a | {r['error']} |")
            continue
        ratio = r["it_s"] / reference["it_s"] if reference and "it_s" in reference and case.family == "sd15" else None
        peak = fmt(r["peak_gb"], ".2f") if cuda else "n/a (CPU)"
        lines.append(f"| {case.name} | {r['it_s']:.2f} | {fmt(ratio, '.2f')} | {peak} | {r['load_s']:.1f} | "
                     f"{r['warmup_s']:.1f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", action="store_true", help="the reduced CPU mode (the default without CUDA)")
    parser.add_argument("--ckpt-dir", default=os.path.join(tempfile.gettempdir(), "gpu-bench-checkpoints"))
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (20 on CUDA, 4 on the CPU)")
    parser.add_argument("--budget", type=float, default=450.0, help="seconds for all cases together")
    parser.add_argument("--only", default="", help="comma-separated case names to run (default: all)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--ckpt", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=512, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    import torch

    cuda = torch.cuda.is_available() and not args.cpu
    args.cpu = not cuda
    steps = args.steps or (20 if cuda else 4)
    device = torch.cuda.get_device_name() if cuda else f"CPU ({os.cpu_count()} cores)"
    print(f"device: {device}; torch {torch.__version__}; {'fp16' if cuda else 'fp32, tiny checkpoints, 64x64'}; "
          f"{steps} steps, batch 1, Euler, CFG 7", flush=True)
    started = time.perf_counter()
    folder = Path(args.ckpt_dir)
    wanted = [c for c in cases(cuda) if not args.only or c.name in args.only.split(",")]
    paths = {family: checkpoint(family, folder, args.cpu) for family in sorted({c.family for c in wanted})}
    print(f"checkpoints ready in {time.perf_counter() - started:.0f} s", flush=True)
    rows: list[tuple[Case, dict]] = []
    for case in wanted:
        size = (512 if case.family == "sd15" else 1024) if cuda else 64
        case_steps = steps if case.family == "sd15" or not cuda else max(2, steps // 2)
        left = args.budget - (time.perf_counter() - started)
        result = run_case(case, paths[case.family], args, size, case_steps, timeout=max(30.0, left))
        rows.append((case, result))
        print(f"  {case.name}: {result}", flush=True)
    reference = next((r for c, r in rows if c.engine == "diffusers"), None)
    print()
    print(table(rows, reference, cuda))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
