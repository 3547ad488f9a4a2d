"""Scale-out on Ray (issue 19): throughput of 16 tiny-model jobs on 1 and 2 CPU workers, and the orchestration
overhead per job against running the same job in this process.

    venv/bin/python bench/scale_out.py [--jobs 16] [--steps 8] [--size 64] [--workers 2]

A local Ray head starts in this process (dashboard off) with the orchestrator and N CPU worker actors on a tiny
random-weight SD1 checkpoint.  Throughput: the 16 jobs (one picture each, their own seeds) are submitted at once
to the job queue, as 16 API clients' requests are, once with 1 worker (one queue slot) and once with 2 (two
slots: two jobs run side by side, each on a worker of its own).  Overhead: one picture at a time,
the wall time of a job through the workers minus the worker's own ``process_images`` time, compared with the
same job in this process (median of the runs).  Prints one line per measure and a JSON summary.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--overhead-runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per process (workers take this process's count): 1 = one core per worker")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)

    from modules.distributed import start, stop
    from modules.distributed.job_spec import constructor_fields, make_chunks
    from modules.models.tiny_factory import make_tiny_checkpoint
    from modules.processing.executors import install_executor
    from modules.processing.pipeline import process_images
    from modules.processing.txt2img import StableDiffusionProcessingTxt2Img
    from modules.runtime.bootstrap import initialize
    from modules.runtime.jobs import job_queue

    data_dir = tempfile.mkdtemp(prefix="scale-out-")
    temp_dir = tempfile.mkdtemp(prefix="rayb", dir="/tmp")
    try:
        make_tiny_checkpoint("sd1", os.path.join(data_dir, "models", "Stable-diffusion"), name="tiny")
        services = initialize(["--data-dir", data_dir, "--ray", "auto", "--ray-workers", str(args.workers),
                               "--nowebui", "--no-prompt-history"]).services
        orchestrator = start(services, temp_dir=temp_dir)
        fields = dict(prompt="a photo of a cat", steps=args.steps, width=args.size, height=args.size,
                      sampler_name="Euler", do_not_save_samples=True, do_not_save_grid=True)

        def processing(seed: int) -> StableDiffusionProcessingTxt2Img:
            return StableDiffusionProcessingTxt2Img(services=services, seed=seed, subseed=seed, **fields)

        def chunk_of(seed: int):
            p = processing(seed)
            checkpoint = services.opts.sd_model_checkpoint
            return make_chunks("txt2img", f"task(bench-{seed}-{time.monotonic_ns()})", constructor_fields(p), 1,
                               dict(services.opts.data), checkpoint)[0]

        queue = job_queue()

        def throughput(n_workers: int) -> float:
            """Seconds for ``args.jobs`` one-picture jobs queued together, on the first ``n_workers`` workers (as
            many queue slots)."""
            # the other workers are set aside (not "ok": never given a chunk; still listed, so none is started
            # in their place)
            resting = orchestrator.slots[n_workers:]
            for slot in resting:
                slot.status = "set aside by the benchmark"
            queue.set_slots(n_workers)
            try:
                # warm: each worker has the model loaded, the first step compiled
                orchestrator.run_chunks([chunk_of(1) for _ in range(n_workers)])
                t0 = time.perf_counter()
                jobs = [queue.submit(lambda s=s: process_images(processing(s)), task_id=f"task(bench-{n_workers}-{s})")
                        for s in range(100, 100 + args.jobs)]
                for job in jobs:
                    job.done.wait()
                    job.take_result()
                elapsed = time.perf_counter() - t0
                overlap = sum(1 for a, b in zip(jobs, jobs[1:]) if b.started < a.finished)
                print(f"{n_workers} worker(s): {overlap} of {len(jobs) - 1} jobs started before the one queued "
                      "before them ended")
                return elapsed
            finally:
                for slot in resting:
                    slot.status = "ok"
                queue.set_slots(len(orchestrator.slots))

        one = throughput(1)
        two = throughput(min(2, len(orchestrator.slots)))
        print(f"{args.jobs} jobs, 1 worker: {one:.2f} s ({args.jobs / one:.2f} jobs/s)")
        print(f"{args.jobs} jobs, 2 workers: {two:.2f} s ({args.jobs / two:.2f} jobs/s); ratio {one / two:.2f}x")

        # overhead: the same one-picture job through process_images, in this process and through a worker; and the
        # wall time of a dispatched chunk minus the worker's own time for it (the orchestration alone)
        local, remote, dispatch = [], [], []
        previous = install_executor(None)
        for i in range(args.overhead_runs + 1):
            t0 = time.perf_counter()
            process_images(processing(7))
            local.append(time.perf_counter() - t0)
        install_executor(previous)
        for i in range(args.overhead_runs + 1):
            t0 = time.perf_counter()
            process_images(processing(7))
            remote.append(time.perf_counter() - t0)
            chunk = chunk_of(7)
            t0 = time.perf_counter()
            result = orchestrator.run_chunks([chunk])[0]
            dispatch.append(time.perf_counter() - t0 - result.seconds)
        local_ms, remote_ms = statistics.median(local[1:]) * 1000, statistics.median(remote[1:]) * 1000
        dispatch_ms = statistics.median(dispatch[1:]) * 1000
        print(f"one job in process: {local_ms:.1f} ms; through a Ray worker: {remote_ms:.1f} ms "
              f"(difference {remote_ms - local_ms:.1f} ms); dispatch and result transfer alone: {dispatch_ms:.1f} ms "
              f"per job (target < 50 ms on the loopback)")
        print(json.dumps({"jobs": args.jobs, "steps": args.steps, "size": args.size, "one_worker_s": round(one, 3),
                          "two_workers_s": round(two, 3), "ratio": round(one / two, 3),
                          "local_ms": round(local_ms, 1), "ray_ms": round(remote_ms, 1),
                          "difference_ms": round(remote_ms - local_ms, 1), "dispatch_ms": round(dispatch_ms, 1),
                          "threads": args.threads, "cpu_count": os.cpu_count()}))
        return 0
    finally:
        stop()
        shutil.rmtree(temp_dir, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
