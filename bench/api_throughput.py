"""Benchmark: txt2img jobs per second through the HTTP API vs the same jobs run in-process.

A tiny random SD1 checkpoint (the real key layout) is made in a temporary data dir and
loaded; the API is served by uvicorn on a local port exactly as ``--nowebui`` serves it.
Each round runs the same 64x64 jobs (one seed each) in-process with ``process_images``,
then one after the other through ``POST /sdapi/v1/txt2img`` (request parsing, the job
queue, PNG + base64 encoding, HTTP); rounds alternate to cancel drift and the medians are
compared.  Also prints the rate with several clients at once.  Target: ratio < 1.1.
Run from the repository root: ``venv/bin/python bench/api_throughput.py [--jobs 16] [--steps 4]``.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def start_server(data_dir: Path) -> tuple[object, int]:
    """Bootstrap with a tiny checkpoint and serve the API app on a free port; returns (server, port)."""
    import socket

    import uvicorn

    from modules import shared
    from modules.app_server import create_app
    from modules.models.tiny_factory import make_tiny_checkpoint
    from modules.runtime.bootstrap import initialize

    make_tiny_checkpoint("sd1", data_dir / "models" / "Stable-diffusion")
    initialize(["--data-dir", str(data_dir), "--nowebui"])
    app = create_app(shared.cmd_opts, with_ui=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, port


def job(seed: int, steps: int) -> dict:
    return {"prompt": "a photo of a cat", "negative_prompt": "", "seed": seed, "steps": steps, "width": 64,
            "height": 64, "sampler_name": "Euler a"}


def in_process(seeds: list[int], steps: int) -> float:
    """Seconds for the jobs run directly."""
    from modules.processing import StableDiffusionProcessingTxt2Img, process_images

    start = time.perf_counter()
    for seed in seeds:
        p = StableDiffusionProcessingTxt2Img(**job(seed, steps), do_not_save_samples=True, do_not_save_grid=True)
        assert process_images(p).images
    return time.perf_counter() - start


def post(conn: http.client.HTTPConnection, body: dict) -> dict:
    conn.request("POST", "/sdapi/v1/txt2img", body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    assert response.status == 200, data[:300]
    return json.loads(data)


def through_api(port: int, seeds: list[int], steps: int) -> float:
    """Seconds for the jobs sent one after the other by one client (keep-alive connection)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    for seed in seeds:
        assert post(conn, job(seed, steps))["images"]
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def concurrent_api(port: int, seeds: list[int], steps: int, clients: int) -> float:
    """Seconds for the jobs sent by ``clients`` clients at once."""

    def worker(chunk: list[int]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for seed in chunk:
            assert post(conn, job(seed, steps))["images"]
        conn.close()

    chunks = [seeds[i::clients] for i in range(clients)]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, chunks))
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=16, help="jobs per round")
    parser.add_argument("--steps", type=int, default=4, help="sampling steps per job")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4, help="clients at once for the concurrent run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server, port = start_server(Path(tmp))
        seeds = list(range(1000, 1000 + args.jobs))
        in_process(seeds[:2], args.steps)  # warm-up: first inference, caches
        through_api(port, seeds[:2], args.steps)
        local, remote = [], []
        for _ in range(args.rounds):
            local.append(in_process(seeds, args.steps))
            remote.append(through_api(port, seeds, args.steps))
        together = concurrent_api(port, seeds, args.steps, args.clients)
        server.should_exit = True

    local_rate = args.jobs / statistics.median(local)
    api_rate = args.jobs / statistics.median(remote)
    print(f"jobs: {args.jobs} x txt2img 64x64, {args.steps} steps, tiny SD1 checkpoint, {args.rounds} rounds")
    print(f"in-process:                {local_rate:8.2f} jobs/s  (rounds: {', '.join(f'{t:.2f}s' for t in local)})")
    print(f"API, one client:           {api_rate:8.2f} requests/s  (rounds: {', '.join(f'{t:.2f}s' for t in remote)})")
    print(f"API, {args.clients} clients at once:   {args.jobs / together:8.2f} requests/s")
    ratio = local_rate / api_rate
    print(f"overhead ratio (in-process rate / API rate): {ratio:.3f}  (target < 1.1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
