"""Benchmark: seconds from process start to API ready (``--nowebui``, no model, warm caches).

Prints our median start-up time, the same for a bare FastAPI + uvicorn server
answering one route (the reference, measured in the same run), their ratio, and
whether the 3 s target holds.  Usage: ``venv/bin/python bench/startup.py [--runs N]``.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_SECONDS = 3.0

BARE_SERVER = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/sdapi/v1/sd-models")
def models():
    return []
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_until_ready(cmd: list[str], port: int, timeout: float = 60.0) -> float:
    """Start ``cmd`` and return the seconds until ``/sdapi/v1/sd-models`` answers 200."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited early: {proc.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/sdapi/v1/sd-models", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                time.sleep(0.02)
        raise RuntimeError("server not ready in time")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="bench-startup-")

    def ours() -> float:
        port = free_port()
        return time_until_ready([sys.executable, "webui.py", "--nowebui", "--port", str(port), "--data-dir", data_dir], port)

    def bare() -> float:
        port = free_port()
        return time_until_ready([sys.executable, "-c", BARE_SERVER, str(port)], port)

    ours()  # warm-up: creates the data dir's folders and caches, fills the OS file cache
    bare()
    our_times = [ours() for _ in range(args.runs)]
    bare_times = [bare() for _ in range(args.runs)]
    our_median, bare_median = statistics.median(our_times), statistics.median(bare_times)
    print(f"ours (webui.py --nowebui, no model): median {our_median:.2f}s  runs {[round(t, 2) for t in our_times]}")
    print(f"reference (bare FastAPI + uvicorn):  median {bare_median:.2f}s  runs {[round(t, 2) for t in bare_times]}")
    print(f"ratio ours/reference: {our_median / bare_median:.2f}")
    print(f"target < {TARGET_SECONDS:.1f}s: {'met' if our_median < TARGET_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    main()
