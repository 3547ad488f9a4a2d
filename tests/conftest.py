"""Shared fixtures: every server or bootstrap runs in its own data dir, and ``modules.shared`` is restored after."""
from __future__ import annotations

import os

import pytest

from tests import disk_space, parallel

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# torch's OpenMP threads spin while they wait for work (libgomp's default). On two cores shared by the test
# process, the servers the browser tests start, chromium and anything else running, a spinning thread keeps the
# core its partner needs: a tiny UNet step then takes 30-100 times longer. Sleeping waiters keep both threads
# (the full-size tests still get two cores). libgomp reads this once, when torch is first imported: this file is
# loaded before any test module imports torch, and the servers started by tests inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# the servers tests start are local, where setting auto_launch_browser's default (Local) opens the page in the
# system's browser, as in A1111: Python's webbrowser runs the BROWSER command instead, here one that does nothing
os.environ.setdefault("BROWSER", "true")


def pytest_configure(config: pytest.Config) -> None:
    """The controller of an xdist run (or the one process) removes what killed runs left in the temporary folder;
    the controller makes the folder its workers share for the full-size checkpoints."""
    if not parallel.is_worker(config):
        disk_space.remove_abandoned_run_folders()
    parallel.make_shared_run_dir(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    parallel.remove_shared_run_dir(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist workers (``./run_tests.sh``): the work units and their order of ``tests/parallel.py``."""
    if parallel.is_worker(config):
        parallel.order_units(items)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: plain pytest runs go without it
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """The work units of ``tests/parallel.py``: the browser modules together, the full-size ones together."""
    return parallel.make_scheduler(config, log)


@pytest.fixture
def restore_shared():
    """Put every ``modules.shared`` name back as it was after the test."""
    from modules import scripts, shared

    names = ["cmd_opts", "opts", "paths", "parser", "state", "sd_model", "checkpoints", "upscalers", "face_restorers",
             "vae_files", "extensions", "scripts", "startup_timer", "demo", "cache", "sd_upscalers", "ui_config", "prompt_styles",
             "model_manager", "device_config", "embeddings",
             "hypernetworks", "hypernetworks_registry", "loaded_hypernetworks"]
    from modules import sd_hijack
    from modules.scripting import callback_registry

    saved_hijack = (sd_hijack.model_hijack.embedding_db, sd_hijack.model_hijack.clip)

    from modules.core.services import current_services, install_services

    services = current_services()  # a start-up in the test installs its own: these come back afterwards
    saved = {k: getattr(shared, k) for k in names}
    saved_scripts = list(scripts.scripts_data)
    saved_runners = (scripts.scripts_txt2img, scripts.scripts_img2img, scripts.scripts_postproc)
    saved_postproc = list(scripts.postprocessing_scripts_data)
    saved_callbacks = {k: list(v) for k, v in callback_registry.callback_map.items()}
    yield shared
    install_services(services)
    for k, v in saved.items():
        setattr(shared, k, v)
    scripts.scripts_data[:] = saved_scripts
    scripts.scripts_txt2img, scripts.scripts_img2img, scripts.scripts_postproc = saved_runners
    scripts.postprocessing_scripts_data[:] = saved_postproc
    sd_hijack.model_hijack.embedding_db, sd_hijack.model_hijack.clip = saved_hijack
    callback_registry.clear_callbacks()
    for key, callbacks in saved_callbacks.items():
        callback_registry.callback_map[key][:] = callbacks


@pytest.fixture
def data_dir(tmp_path):
    """An empty data dir for one test."""
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def started(data_dir, restore_shared):
    """Run the bootstrap in ``data_dir`` with no model load; returns a function taking extra flags."""
    from modules.runtime.bootstrap import initialize

    def start(*extra: str, model_loader=None):
        return initialize(["--data-dir", str(data_dir), *extra], model_loader=model_loader)

    return start


@pytest.fixture
def app(started, data_dir, restore_shared):
    """Start with a tiny random-weight checkpoint of the real key layout loaded; returns ``modules.shared``."""
    from modules.models.tiny_factory import make_tiny_checkpoint

    def start(family: str = "sd1", *flags: str):
        make_tiny_checkpoint(family, data_dir / "models" / "Stable-diffusion")
        started(*flags)
        assert restore_shared.sd_model is not None
        return restore_shared

    return start
