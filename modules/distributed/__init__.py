"""Scale-out on Ray (``--ray auto|ADDRESS``): this process orchestrates, worker actors generate.

Layer: above :mod:`modules.runtime` (a worker is a headless runtime), below the UI, the API and the server.
Ray is optional (``requirements-ray.txt``, installed by the launcher only with ``--ray``) and imported only by
:func:`start`.  ``start`` connects to the cluster, places worker actors on its nodes (one per GPU, or
``--ray-workers`` on CPU-only nodes), and installs the executor that ``process_images`` hands txt2img/img2img
jobs to; the job queue, the UI and the API work as before on top of it, the queue running as many jobs at once
as there are workers.
"""
from __future__ import annotations

import os
import threading
from typing import Any

from modules.core.services import Services

PASSED_FLAGS = ("no_half", "no_half_vae", "upcast_sampling", "precision", "medvram", "medvram_sdxl", "lowvram",
                "disable_nan_check", "no_hashing", "use_cpu", "ckpt_dir", "vae_dir", "lora_dir", "hypernetwork_dir",
                "embeddings_dir", "models_dir", "disable_all_extensions", "disable_extra_extensions")
"""The orchestrator's flags every worker starts with (devices, precision, the models folders)."""

_ORCHESTRATOR: Any = None
_GUARD = threading.Lock()


def worker_argv(services: Services, name: str) -> list[str]:
    """Flags of the worker ``name``: its own data dir under this one's cache, this one's models and devices."""
    cmd_opts, paths = services.cmd_opts, services.paths
    argv = ["--data-dir", os.path.join(paths.cache_dir, "ray-workers", name), "--models-dir", paths.models_dir]
    for flag in PASSED_FLAGS:
        value = getattr(cmd_opts, flag, None)
        option = "--" + flag.replace("_", "-")
        if flag == "models_dir" or value in (None, False, [], ""):
            continue
        if value is True:
            argv.append(option)
        elif isinstance(value, list):
            argv += [option, *map(str, value)]
        elif not (flag == "precision" and value == "autocast"):
            argv += [option, str(value)]
    return argv


def worker_setup(services: Services) -> dict[str, Any]:
    """What a new worker's data dir starts with: this one's settings (``config.json``) and extensions folder."""
    return {"extensions_dir": services.paths.extensions_dir, "config": dict(services.opts.data)}


def start(services: Services, *, wait: bool = True, temp_dir: str | None = None) -> Any:
    """Connect to the cluster of ``--ray``, start the workers and route jobs to them; returns the orchestrator."""
    from modules.distributed import cluster  # why: imports ray, only with --ray
    from modules.distributed.executor import RayExecutor  # why: loads the processing stack (torch)
    from modules.distributed.orchestrator import Orchestrator  # why: as cluster
    from modules.processing.executors import install_executor  # why: as executor
    from modules.runtime.jobs import job_queue  # why: as executor

    global _ORCHESTRATOR
    cmd_opts = services.cmd_opts
    ray = cluster.connect(cmd_opts.ray, temp_dir=temp_dir)
    orchestrator = Orchestrator(ray, lambda name: worker_argv(services, name), per_node=cmd_opts.ray_workers,
                                worker_setup=lambda: worker_setup(services))
    # one job at a time per worker: jobs of different users run side by side on different workers
    orchestrator.on_workers_changed = job_queue().set_slots
    orchestrator.refresh(force=True)
    names = ", ".join(s.name for s in orchestrator.slots)
    print(f"Ray: {len(orchestrator.slots)} worker(s) starting ({names}); dashboard off", flush=True)
    if wait:
        ready = orchestrator.wait_ready()
        print(f"Ray: {ready} of {len(orchestrator.slots)} worker(s) ready", flush=True)
    install_executor(RayExecutor(orchestrator))
    with _GUARD:
        _ORCHESTRATOR = orchestrator
    return orchestrator


def current_orchestrator() -> Any:
    """The running orchestrator (None without ``--ray``)."""
    return _ORCHESTRATOR


def stop() -> None:
    """Stop routing jobs to Ray, stop the workers and leave the cluster."""
    from modules.distributed import cluster  # why: as in start
    from modules.processing.executors import install_executor  # why: as in start
    from modules.runtime.jobs import job_queue  # why: as in start

    global _ORCHESTRATOR
    with _GUARD:
        orchestrator, _ORCHESTRATOR = _ORCHESTRATOR, None
    install_executor(None)
    job_queue().set_slots(1)
    if orchestrator is not None:
        orchestrator.shutdown()
    cluster.shutdown()
