"""Benchmark: latency of a 64x64, 4-step txt2img request on a full-size SD1.5 checkpoint through the HTTP API.

The app is bootstrapped on a data dir holding the full-size random-weight SD1.5 checkpoint (fp32 on the
CPU) and its API served by uvicorn on a local port, as ``--nowebui`` serves it; requests go through
``POST /sdapi/v1/txt2img`` one after the other.  Forward hooks on the UNet, the text encoder and the VAE
decoder sum the time spent inside the networks during each request, so the print shows the request's
wall time, the UNet's, the ratio between them and what is left outside the networks (HTTP, queue,
prompt parsing, sampler, PNG encoding, infotext).
Usage: ``venv/bin/python bench/fullsize_latency.py [--dir /tmp/fullsize] [--requests 3] [--steps 4]``;
without ``--dir`` the checkpoint is generated with ``../shared/tools/make_random_ckpt.py``.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


class NetworkClock:
    """Sums the wall time of modules' forward calls by name, through forward hooks (nothing is patched)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._handles: list = []

    def watch(self, name: str, module) -> None:
        started: list[float] = []

        def before(_module, _args) -> None:
            started.append(time.perf_counter())

        def after(_module, _args, _output) -> None:
            self.totals[name] = self.totals.get(name, 0.0) + time.perf_counter() - started.pop()
            self.calls[name] = self.calls.get(name, 0) + 1

        self._handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]

    def reset(self) -> None:
        self.totals.clear()
        self.calls.clear()

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


def start_server(data_dir: Path) -> tuple[object, int]:
    """Bootstrap with the checkpoint in ``data_dir`` loaded and serve the API on a free port."""
    import uvicorn

    from modules import shared
    from modules.app_server import create_app
    from modules.runtime.bootstrap import initialize

    initialize(["--data-dir", str(data_dir), "--nowebui", "--use-cpu", "all", "--disable-console-progressbars"])
    assert shared.sd_model is not None, "the checkpoint did not load"
    app = create_app(shared.cmd_opts, with_ui=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, port


def txt2img(port: int, seed: int, steps: int) -> float:
    """Seconds for one request; checks the answer holds one 64x64 PNG."""
    from PIL import Image

    # a new prompt each time: the text encoder runs (the same prompt again would hit the conditioning cache)
    body = {"prompt": f"a photograph of an astronaut riding a horse, (detailed:1.1), take {seed}",
            "negative_prompt": "blurry",
            "seed": seed, "steps": steps, "width": 64, "height": 64, "sampler_name": "Euler a", "cfg_scale": 7}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1800)
    start = time.perf_counter()
    conn.request("POST", "/sdapi/v1/txt2img", body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    assert response.status == 200, data[:500]
    images = json.loads(data)["images"]
    assert len(images) == 1 and Image.open(io.BytesIO(base64.b64decode(images[0]))).size == (64, 64)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="folder with random-sd15.safetensors (default: generate it)")
    parser.add_argument("--requests", type=int, default=3, help="timed requests (after one warm-up)")
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()

    from modules import shared
    from tests.fullsize.conftest import FullsizeCheckpoints

    with tempfile.TemporaryDirectory(prefix="bench-fullsize-latency-") as tmp:
        store = FullsizeCheckpoints(Path(args.dir) if args.dir else Path(tmp) / "checkpoints")
        data_dir = Path(tmp) / "data"
        store.install("sd15", data_dir)
        load_start = time.perf_counter()
        server, port = start_server(data_dir)
        print(f"server with full-size SD1.5 ready in {time.perf_counter() - load_start:.1f} s", flush=True)
        model = shared.sd_model
        clock = NetworkClock()
        clock.watch("unet", model.model.diffusion_model)
        clock.watch("text encoder", model.cond_stage_model)
        clock.watch("vae", model.first_stage_model.decoder)
        txt2img(port, 1, args.steps)  # warm-up: first-call allocations, lazily built grammars
        walls, unets, outside = [], [], []
        for i in range(args.requests):
            clock.reset()
            wall = txt2img(port, 100 + i, args.steps)
            networks = sum(clock.totals.values())
            walls.append(wall)
            unets.append(clock.totals.get("unet", 0.0))
            outside.append(wall - networks)
            print(f"request {i + 1}: {wall:.2f} s; unet {clock.totals.get('unet', 0):.2f} s "
                  f"in {clock.calls.get('unet', 0)} calls, text encoder {clock.totals.get('text encoder', 0):.2f} s, "
                  f"vae {clock.totals.get('vae', 0):.2f} s; outside the networks {wall - networks:.3f} s", flush=True)
        clock.close()
        server.should_exit = True
    wall, unet = statistics.median(walls), statistics.median(unets)
    print(f"txt2img 64x64, {args.steps} steps, Euler a, CFG 7, full-size SD1.5 fp32, cpu threads {os.cpu_count()}")
    print(f"request median {wall:.2f} s; UNet median {unet:.2f} s; ratio request/UNet = {wall / unet:.3f}")
    print(f"outside the networks: median {statistics.median(outside) * 1000:.0f} ms per request")


if __name__ == "__main__":
    main()
