"""The body of a Ray worker actor: a headless runtime of this web UI that runs job chunks.

:class:`WorkerRuntime` is a plain class (tests drive it in-process); :mod:`modules.distributed.cluster` turns it
into a Ray actor.  Each worker has its own data dir (its queue store, ``config.json`` and ``params.txt`` stay
its own) and reads the models folders of the orchestrator's flags, so on one machine the files are shared and
on another node the same paths must hold the checkpoints (the network files a job uses are sent with it when
missing: :mod:`modules.distributed.file_shipping`).  A generation chunk runs through the worker's job queue with the
orchestrator's settings of the moment applied for that chunk only; the checkpoint it needs becomes the worker's
setting (the worker keeps holding it, which placement prefers).  An Extras chunk runs the operations over one
picture.  Nothing is saved here.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from typing import Any, Iterator, Sequence

from contextlib import contextmanager

from modules.distributed.file_shipping import ensure_files
from modules.distributed.job_spec import COPIED_BACK, EXTRAS, Chunk, ChunkResult, ExtrasResult, script_title

NOT_SNAPSHOT = frozenset({"sd_model_checkpoint", "sd_checkpoint_hash"})
"""Settings the snapshot does not set directly: the checkpoint is switched through the model manager."""


class CheckpointMissingError(RuntimeError):
    """The job's checkpoint is not on this worker's node (the orchestrator tries another worker)."""


class WorkerRuntime:
    """A headless runtime that runs :class:`~modules.distributed.job_spec.Chunk` s (one Ray actor)."""

    def __init__(self, name: str, argv: Sequence[str], threads: int | None = None,
                 setup: dict[str, Any] | None = None) -> None:
        from modules.runtime.headless import start_headless  # why: the bootstrap imports torch; only workers need it

        _prepare_data_dir(self._flag(argv, "--data-dir"), setup or {})
        if threads:
            # Ray gives an actor one OpenMP thread; the orchestrator's count keeps the float sums in the same
            # order, so a picture is the one this machine makes in one process
            import torch  # why: torch is loaded by the bootstrap anyway; the thread count must be set first

            torch.set_num_threads(threads)
        self.name = name
        self.argv = list(argv)
        self.runtime = start_headless(self.argv)
        self.current: str | None = None
        self.started = time.time()
        self.jobs_done = 0
        self._lock = threading.Lock()

    @staticmethod
    def _flag(argv: Sequence[str], name: str) -> str | None:
        argv = list(argv)
        return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None

    # --- what the orchestrator shows --------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Name, process, node, devices, loaded checkpoint, current task (``/sdapi/v1/workers``)."""
        services = self.runtime.services
        model = services.sd_model
        info = getattr(model, "sd_checkpoint_info", None)
        return {"name": self.name, "pid": os.getpid(), "host": socket.gethostname(), "node_id": _ray_node_id(),
                "devices": _devices(), "model": getattr(info, "title", None), "current_task": self.current,
                "jobs_done": self.jobs_done, "model_load": self.runtime.startup.model_load}

    def progress(self, task_id: str, with_latent: bool = False) -> dict[str, Any]:
        """The worker's state while ``task_id`` runs (empty when it runs something else or nothing)."""
        state = self.runtime.services.state
        if state is None or self.current != task_id or getattr(state, "current_task_id", None) != task_id:
            return {}
        latent = getattr(state, "current_latent", None) if with_latent else None
        return {"job_no": state.job_no, "job_count": state.job_count, "sampling_step": state.sampling_step,
                "sampling_steps": state.sampling_steps, "textinfo": getattr(state, "textinfo", None),
                "latent": latent.detach().cpu().clone() if latent is not None else None}

    def interrupt(self, task_id: str) -> bool:
        """Interrupt the chunk ``task_id`` when it runs here (its pictures so far come back)."""
        return self._signal(task_id, "interrupt")

    def skip(self, task_id: str) -> bool:
        """Skip the running batch of chunk ``task_id``."""
        return self._signal(task_id, "skip")

    def _signal(self, task_id: str, what: str) -> bool:
        state = self.runtime.services.state
        if state is None or getattr(state, "current_task_id", None) != task_id:
            return False
        getattr(state, what)()
        return True

    # --- running ----------------------------------------------------------------------------------------------
    def run(self, chunk: Chunk) -> ChunkResult:
        """Run ``chunk`` through this worker's job queue and return its pictures and notes."""
        from modules.runtime.jobs import job_queue  # why: loads the processing stack, as __init__ did

        started = time.perf_counter()
        with self._lock:  # one chunk at a time: the actor also answers progress and interrupt meanwhile
            self.current = chunk.task_id
            try:
                result = job_queue().run(lambda: self._run_chunk(chunk), task_id=chunk.task_id,
                                         name=f"scripts_{chunk.kind}", kind=chunk.kind)
                result.seconds = time.perf_counter() - started
                return result
            finally:
                self.current = None
                self.jobs_done += 1

    def _run_chunk(self, chunk: Chunk) -> ChunkResult | ExtrasResult:
        if chunk.kind == EXTRAS:
            return run_extras_chunk(self.runtime.services, chunk, self.name)
        from modules.processing.img2img import StableDiffusionProcessingImg2Img  # why: torch on first use
        from modules.processing.job_infotext import create_infotext  # why: as above
        from modules.processing.pipeline import process_images  # why: as above
        from modules.processing.txt2img import StableDiffusionProcessingTxt2Img  # why: as above

        services = self.runtime.services
        self._use_checkpoint(chunk.checkpoint)
        if chunk.files:  # the network files this node lacks, from the object store
            ensure_files(services, chunk.files, _fetch, self.name)
        cls = StableDiffusionProcessingTxt2Img if chunk.kind == "txt2img" else StableDiffusionProcessingImg2Img
        with settings_applied(services.opts, chunk.settings):
            p = cls(services=services, **chunk.fields)
            p.task_id = chunk.task_id
            if chunk.first and chunk.job_seeds:
                _init_with_job_seeds(p, chunk.job_seeds)
            if chunk.scripts:
                runner = services.scripts_txt2img if chunk.kind == "txt2img" else services.scripts_img2img
                p.scripts = self._chunk_hooks(runner, chunk)
                p.script_args = list(chunk.script_args)
            try:
                processed = process_images(p)
                grid_text = create_infotext(p, p.all_prompts, p.all_seeds, p.all_subseeds, use_main_prompt=True)
                state = services.state
                interrupted = bool(state is not None and state.interrupted)
                attributes = {name: getattr(p, name) for name in COPIED_BACK if hasattr(p, name)}
                return ChunkResult(list(processed.images), list(processed.infotexts), list(p.all_prompts),
                                   list(p.all_negative_prompts), list(p.all_seeds), list(p.all_subseeds),
                                   attributes, dict(p.comments), grid_text, worker=self.name,
                                   node=_ray_node_id() or socket.gethostname(), interrupted=interrupted)
            finally:
                p.close()

    def _chunk_hooks(self, runner: Any, chunk: Chunk) -> Any:
        """This worker's runner with its always-on scripts reading the job's arguments where the orchestrator's do."""
        if runner is None:
            return None
        mine = {(os.path.basename(s.filename or ""), script_title(s)): s for s in runner.alwayson_scripts}
        for filename, title, args_from, args_to in chunk.scripts:
            script = mine.get((filename, title))
            if script is None and args_from != args_to:
                print(f"*** Ray {self.name}: always-on script {title!r} ({filename}) is not installed on this node; "
                      "the job runs without it here", file=sys.stderr, flush=True)
                continue
            if script is not None:
                script.args_from, script.args_to = args_from, args_to
        return ChunkHooks(runner)

    def _use_checkpoint(self, title: str | None) -> None:
        """Make ``title`` this worker's checkpoint (loaded once, kept for the next jobs)."""
        if not title:
            return
        from modules.processing.model_switch import reload_model_weights  # why: torch on first use

        services = self.runtime.services
        checkpoints = services.checkpoints
        found = checkpoints.get_closest_match(title) if checkpoints is not None else None
        if found is None and checkpoints is not None:  # put in the folder after this worker started
            checkpoints.refresh()
            found = checkpoints.get_closest_match(title)
        if found is None:
            folder = getattr(services.paths, "models_dir", None) or "models"
            raise CheckpointMissingError(f"checkpoint {title} is not on node {socket.gethostname()} "
                                         f"(worker {self.name}): put it in {os.path.join(folder, 'Stable-diffusion')}")
        if services.opts.data.get("sd_model_checkpoint") != found.title or services.sd_model is None:
            services.opts.set("sd_model_checkpoint", found.title, run_callbacks=False)
            reload_model_weights(services)


def run_extras_chunk(services: Any, chunk: Chunk, worker: str = "") -> ExtrasResult:
    """The Extras operations of ``chunk`` over its picture, with the orchestrator's settings of the moment."""
    from modules.processing.extras_run import run_operations  # why: loads the upscalers' stack on first use

    picture = chunk.fields["picture"]
    with settings_applied(services.opts, chunk.settings):
        run_operations(picture, chunk.fields["args"], services)
    return ExtrasResult(picture, worker=worker, node=_ray_node_id() or socket.gethostname())


class ChunkHooks:
    """The worker's script runner for one chunk: every hook from ``process`` to ``postprocess`` (which also undoes
    what ``process`` hooked into this worker's model); ``before_process`` and the script setup ran in the
    orchestrator before it dispatched."""

    ORCHESTRATOR_HOOKS = frozenset({"before_process", "setup_scrips", "run"})

    def __init__(self, runner: Any) -> None:
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        if name in self.ORCHESTRATOR_HOOKS:
            raise AttributeError(name)
        return getattr(self._runner, name)


def _init_with_job_seeds(p: Any, job_seeds: list[int]) -> None:
    """Make this processing object's ``init`` see the job's first seeds, as in the one-process run (where ``init``
    runs once, before the first batch); the pictures' own seeds are unchanged."""
    init = p.init

    def job_init(all_prompts: list[str], all_seeds: list[int], all_subseeds: list[int]) -> None:
        return init(all_prompts, list(job_seeds) + list(all_seeds[len(job_seeds):]), all_subseeds)

    p.init = job_init  # this object only


@contextmanager
def settings_applied(opts: Any, snapshot: dict[str, Any]) -> Iterator[None]:
    """Hold the orchestrator's setting values (those this worker's catalogue knows) while a chunk runs."""
    saved: dict[str, Any] = {}
    absent: set[str] = set()
    known = getattr(opts, "data_labels", None)
    for key, value in snapshot.items():
        if key in NOT_SNAPSHOT or (known is not None and key not in known):
            continue
        if key in opts.data:
            if opts.data[key] == value:
                continue
            saved[key] = opts.data[key]
        else:
            absent.add(key)
        opts.data[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            opts.data[key] = value
        for key in absent:
            opts.data.pop(key, None)


def _prepare_data_dir(data_dir: str | None, setup: dict[str, Any]) -> None:
    """A new worker's data dir starts with the orchestrator's ``config.json`` and sees its extensions folder (a link,
    when that path exists on this node), so the worker loads the same extensions with the same settings."""
    if not data_dir:
        return
    os.makedirs(data_dir, exist_ok=True)
    extensions = setup.get("extensions_dir")
    link = os.path.join(data_dir, "extensions")
    if extensions and os.path.isdir(extensions) and not os.path.lexists(link):
        os.symlink(extensions, link)
    config = setup.get("config")
    path = os.path.join(data_dir, "config.json")
    if isinstance(config, dict) and not os.path.exists(path):
        with open(path, "w", encoding="utf8") as f:
            json.dump(config, f, indent=4)


def _fetch(ref: Any) -> bytes:
    """The bytes behind an object-store reference (the actor runs inside Ray: the module is loaded)."""
    return sys.modules["ray"].get(ref)


def _ray_node_id() -> str | None:
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    try:
        return ray.get_runtime_context().get_node_id()
    except Exception:  # outside a Ray worker (tests): no node
        return None


def _devices() -> list[str]:
    import torch  # why: already imported by the runtime; only for the device names

    if torch.cuda.is_available():
        return [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    return ["cpu"]
