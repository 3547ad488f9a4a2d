"""Fixtures for the API tests: apps with and without a tiny checkpoint, a paused sampler, a live server."""
from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient

from tests.reference_answers import RESPONSES

SHARED_NAMES = ["cmd_opts", "opts", "paths", "parser", "state", "sd_model", "checkpoints", "upscalers", "face_restorers",
                "vae_files", "extensions", "scripts", "startup_timer", "demo", "cache", "sd_upscalers", "ui_config",
                "prompt_styles", "model_manager", "device_config"]

SMALL = {"prompt": "a photo of a cat", "steps": 3, "width": 64, "height": 64, "sampler_name": "Euler a"}
"""A cheap txt2img request on the tiny checkpoint."""


def reference(name: str):
    """A1111's answer for a route (``shared/a1111-responses``); the test is skipped without them."""
    path = os.path.join(RESPONSES, f"{name}.json")
    if not os.path.exists(path):
        pytest.skip("no reference answers")
    with open(path) as f:
        return json.load(f)


def decode(b64: str):
    from PIL import Image

    return Image.open(io.BytesIO(base64.b64decode(b64)))


def encode(image, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return base64.b64encode(buf.getvalue()).decode()


@contextlib.contextmanager
def preserved_shared():
    """Put the installed services (``modules.shared``, the script runners) and the callbacks back as they were.

    A start-up inside installs services of its own: the ones from before are installed again, with the
    values they had (a test may also have assigned ``shared.X`` on them).
    """
    from modules import scripts, shared
    from modules.core.services import current_services, install_services
    from modules.scripting import callback_registry

    services = current_services()
    saved = {k: getattr(shared, k) for k in SHARED_NAMES}
    runners = (scripts.scripts_txt2img, scripts.scripts_img2img, scripts.scripts_postproc)
    saved_scripts = list(scripts.scripts_data)
    saved_postproc = list(scripts.postprocessing_scripts_data)
    saved_callbacks = {k: list(v) for k, v in callback_registry.callback_map.items()}
    try:
        yield shared
    finally:
        from modules.runtime.jobs import job_queue

        job_queue().wait_idle(60)
        install_services(services)
        for k, v in saved.items():
            setattr(shared, k, v)
        scripts.scripts_txt2img, scripts.scripts_img2img, scripts.scripts_postproc = runners
        scripts.scripts_data[:] = saved_scripts
        scripts.postprocessing_scripts_data[:] = saved_postproc
        callback_registry.clear_callbacks()
        for key, callbacks in saved_callbacks.items():
            callback_registry.callback_map[key][:] = callbacks


def start_app(data_dir, *flags: str, checkpoints: tuple[str, ...] = ()):
    """Bootstrap in ``data_dir`` (tiny checkpoints named in ``checkpoints`` first) and build the API app."""
    from modules import shared
    from modules.app_server import create_app
    from modules.runtime.bootstrap import initialize

    for seed, name in enumerate(checkpoints):
        from modules.models.tiny_factory import make_tiny_checkpoint

        make_tiny_checkpoint("sd1", data_dir / "models" / "Stable-diffusion", name=name, seed=seed)
    load = () if checkpoints else ("--skip-load-model-at-start",)
    initialize(["--data-dir", str(data_dir), "--nowebui", *load, *flags])
    return create_app(shared.cmd_opts, with_ui=False)


@pytest.fixture
def api_client(started, restore_shared):
    """A function making a TestClient of an API-only app without a model, for extra flags."""

    def make(*flags: str, raise_server_exceptions: bool = True) -> TestClient:
        from modules.app_server import create_app

        started("--nowebui", "--skip-load-model-at-start", *flags)
        return TestClient(create_app(restore_shared.cmd_opts, with_ui=False),
                          raise_server_exceptions=raise_server_exceptions)

    return make


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An API app with a tiny SD1 checkpoint loaded, shared by the tests of a module: (client, shared, data dir)."""
    data_dir = tmp_path_factory.mktemp("data")
    with preserved_shared() as shared:
        app = start_app(data_dir, checkpoints=("tiny-a",))
        assert shared.sd_model is not None
        with TestClient(app) as client:
            yield client, shared, data_dir


class SamplingGate:
    """Holds the sampler at a chosen denoiser call until released (to look at a job while it runs)."""

    def __init__(self, pause_at: int = 3) -> None:
        self.pause_at = pause_at
        self.calls = 0
        self.paused = threading.Event()
        self.go = threading.Event()
        self.lock = threading.Lock()

    def step(self) -> None:
        with self.lock:
            self.calls += 1
            pause = self.calls == self.pause_at
        if pause:
            self.paused.set()
            assert self.go.wait(60), "the test never released the sampler"

    def wait_paused(self, timeout: float = 60) -> None:
        assert self.paused.wait(timeout), "the sampler never reached the pause"

    def release(self) -> None:
        self.go.set()


@pytest.fixture
def gate(monkeypatch):
    """A :class:`SamplingGate` wired into the CFG denoiser (released at the end of the test)."""
    from modules.sampling import cfg_denoiser

    gate = SamplingGate()
    original = cfg_denoiser.CFGDenoiser.forward

    def forward(self, *args, **kwargs):
        gate.step()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cfg_denoiser.CFGDenoiser, "forward", forward)
    yield gate
    gate.release()
    from modules.runtime.jobs import job_queue

    job_queue().wait_idle(60)


def wait_status(client: TestClient, task_id: str, statuses: tuple[str, ...], timeout: float = 60) -> dict:
    """Poll the async job route until the job's status is one of ``statuses``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = client.get(f"/sdapi/v1/async/jobs/{task_id}?live_preview=false").json()
        if info["status"] in statuses:
            return info
        time.sleep(0.05)
    raise AssertionError(f"{task_id} did not reach {statuses}: {info}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(app):
    """Serve ``app`` with uvicorn on a free local port in a thread; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert time.time() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
