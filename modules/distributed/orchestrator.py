"""The orchestrator: the worker actors of the cluster and the dispatch of a job's chunks to them.

One :class:`WorkerSlot` per actor.  A job's chunks go to free workers, those already holding the job's
checkpoint first; the orchestrator waits for them with ``ray.wait``, meanwhile asking the running workers for
their progress (and latest latent, for live previews) and passing on interrupt and skip.  A worker whose process
dies (Ray restarts the actor) has its chunk run again on another worker from the start; nothing was saved by it,
so nothing is duplicated.  A worker lacking the job's checkpoint is marked (the reason is printed and shown by
``/sdapi/v1/workers``) and skipped for that checkpoint.
"""
from __future__ import annotations

import collections
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from modules.distributed import cluster
from modules.distributed.job_spec import EXTRAS, Chunk, ChunkResult
from modules.distributed.worker import CheckpointMissingError

POLL_S = 0.05
"""How long one ``ray.wait`` waits: the latency a finished chunk may add (kept well under the 50 ms target's
budget on the loopback only together with the progress calls, which are throttled by :data:`PROGRESS_S`)."""
PROGRESS_S = 0.5
"""How often a running chunk is asked for its progress."""


class NoWorkerError(RuntimeError):
    """No worker can run the job (none started, all dead, or none has its checkpoint)."""


@dataclass(eq=False)
class WorkerSlot:
    """One worker actor as the orchestrator sees it."""

    name: str
    node_id: str
    actor: Any
    status: str = "starting"
    """``starting``, ``ok``, ``restarting`` (its process died; Ray starts it again)."""
    reason: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    """The chunk it runs now."""
    missing: dict[str, str] = field(default_factory=dict)
    """Checkpoints it cannot load, with the reason."""
    networks: tuple[tuple[str, str], ...] = ()
    """The extra networks of the last generation chunk it ran (still loaded and applied there)."""
    ping: Any = None
    jobs_done: int = 0

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "node_id": self.node_id, "status": self.status, "reason": self.reason,
                "pid": self.info.get("pid"), "host": self.info.get("host"), "devices": self.info.get("devices", []),
                "model": self.info.get("model"), "networks": [f"{kind}:{name}" for kind, name in self.networks],
                "current_task": self.task, "jobs_done": self.jobs_done, "missing_checkpoints": dict(self.missing)}


class Orchestrator:
    """Worker actors on every live node and the dispatch of chunks to them."""

    def __init__(self, ray: Any, worker_argv: Callable[[str], list[str]], per_node: int | None = None,
                 worker_setup: Callable[[], dict[str, Any]] | None = None) -> None:
        self.ray = ray
        self.worker_argv = worker_argv
        self.worker_setup = worker_setup or dict
        self.per_node = per_node
        self.slots: list[WorkerSlot] = []
        self._lock = threading.Condition()
        self._names = 0
        self._last_refresh = 0.0
        self.on_workers_changed: Callable[[int], None] | None = None
        """Called with the number of worker actors when workers were added (the job queue's slot count)."""

    # --- workers ------------------------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Start workers on nodes that joined; see whether restarted workers answer again (every 2 s at most)."""
        now = time.time()
        if not force and now - self._last_refresh < 2.0:
            return
        self._last_refresh = now
        nodes = cluster.live_nodes(self.ray)
        with self._lock:
            before = len(self.slots)
            for node in nodes:
                have = sum(1 for s in self.slots if s.node_id == node.node_id)
                for _ in range(node.worker_count(self.per_node) - have):
                    self._names += 1
                    name = f"worker-{self._names}"
                    actor = cluster.spawn_worker(self.ray, name, self.worker_argv(name), node, _torch_threads(),
                                                 self.worker_setup())
                    self.slots.append(WorkerSlot(name, node.node_id, actor))
            for slot in self.slots:
                if slot.status in ("starting", "restarting"):
                    self._check_alive(slot)
            count = len(self.slots)
        if count != before and self.on_workers_changed is not None:
            self.on_workers_changed(count)

    def _check_alive(self, slot: WorkerSlot) -> None:
        """Ask a starting or restarted worker to describe itself; mark it ``ok`` once it answers (caller holds the lock)."""
        if slot.ping is None:
            slot.ping = slot.actor.describe.remote()
            return
        ready, _ = self.ray.wait([slot.ping], timeout=0)
        if not ready:
            return
        ping, slot.ping = slot.ping, None
        try:
            slot.info = self.ray.get(ping)
        except Exception as e:  # still down (or failed to start): asked again at the next refresh
            slot.reason = f"{type(e).__name__}: {e}".splitlines()[0]
            return
        slot.status, slot.reason = "ok", None
        if slot.info.get("model_load") not in (None, "loaded"):
            slot.reason = f"model at start: {slot.info.get('model_load')}"
        self._lock.notify_all()

    def wait_ready(self, count: int | None = None, timeout: float = 300.0) -> int:
        """Wait until ``count`` workers (default: all) answer; returns how many are ready."""
        deadline = time.time() + timeout
        while True:
            self.refresh(force=True)
            with self._lock:
                for slot in self.slots:
                    if slot.ping is not None:
                        self.ray.wait([slot.ping], timeout=0.5)
                        self._check_alive(slot)
                ready = sum(1 for s in self.slots if s.status == "ok")
                wanted = len(self.slots) if count is None else count
            if ready >= wanted or time.time() > deadline:
                return ready
            time.sleep(0.2)

    def workers(self) -> list[dict[str, Any]]:
        """Every worker's state (``/sdapi/v1/workers``)."""
        self.refresh()
        with self._lock:
            return [slot.describe() for slot in self.slots]

    def workers_elsewhere(self) -> bool:
        """True when a worker runs on another node than this process (it may lack this node's network files)."""
        try:
            here = self.ray.get_runtime_context().get_node_id()
        except Exception:  # no node of our own to compare with: assume the workers are elsewhere
            return True
        with self._lock:
            return any(slot.node_id != here for slot in self.slots)

    def task_workers(self, task_id: str) -> list[str]:
        """The workers running chunks of ``task_id`` now (the async job route shows them)."""
        with self._lock:
            return [s.name for s in self.slots if s.task is not None and s.task.startswith(f"{task_id}#")]

    # --- dispatch -----------------------------------------------------------------------------------------------
    def free_workers(self, checkpoint: str | None = None) -> int:
        """Workers that could take a chunk of a job using ``checkpoint`` now."""
        self.refresh()
        with self._lock:
            return sum(1 for s in self.slots if self._usable(s, checkpoint) and s.task is None)

    def _usable(self, slot: WorkerSlot, checkpoint: str | None) -> bool:
        return slot.status == "ok" and (checkpoint is None or checkpoint not in slot.missing)

    def _acquire(self, chunk: Chunk) -> WorkerSlot | None:
        """A free worker for ``chunk`` (holding its checkpoint first, then its extra networks, then the least used),
        marked busy; None when none is free now."""
        with self._lock:
            free = [s for s in self.slots if self._usable(s, chunk.checkpoint) and s.task is None]
            if not free:
                if not any(self._usable(s, chunk.checkpoint) or s.status in ("starting", "restarting")
                           for s in self.slots):
                    reasons = "; ".join(s.missing.get(chunk.checkpoint or "", "") or f"{s.name}: {s.status}"
                                        for s in self.slots) or "no worker was started"
                    raise NoWorkerError(f"no Ray worker can run this job ({reasons})")
                return None
            free.sort(key=lambda s: (s.info.get("model") != chunk.checkpoint, s.networks != chunk.networks,
                                     s.jobs_done))
            slot = free[0]
            slot.task = chunk.task_id
            return slot

    def _release(self, slot: WorkerSlot, chunk: Chunk | None = None) -> None:
        """``slot`` is free again; after a generation chunk it ran, it holds that chunk's checkpoint and networks."""
        with self._lock:
            slot.task = None
            slot.jobs_done += 1
            if chunk is not None and chunk.kind != EXTRAS:
                if chunk.checkpoint is not None:
                    slot.info["model"] = chunk.checkpoint
                slot.networks = chunk.networks
            self._lock.notify_all()

    def run_chunks(self, chunks: list[Chunk], on_progress: Callable[[dict[str, Any]], None] | None = None,
                   control: Callable[[], str | None] | None = None) -> list[ChunkResult]:
        """Run ``chunks`` on the workers and return their results in chunk order.

        ``on_progress`` gets ``{"done": iterations finished, "job_no", "sampling_step", "sampling_steps",
        "latent", "workers"}``; ``control()`` says ``"interrupt"`` or ``"skip"`` when the user asked for it.
        """
        ray = self.ray
        pending = collections.deque(chunks)
        running: dict[Any, tuple[Chunk, WorkerSlot]] = {}
        results: dict[int, ChunkResult] = {}
        asked: dict[str, tuple[Any, float]] = {}
        latest: dict[str, dict[str, Any]] = {}
        attempts: collections.Counter[int] = collections.Counter()
        interrupted = False
        while pending or running:
            self.refresh()
            while pending and not interrupted:
                slot = self._acquire(pending[0])
                if slot is None:
                    break
                chunk = pending.popleft()
                running[slot.actor.run.remote(chunk)] = (chunk, slot)
            if not running:
                if interrupted:
                    break
                with self._lock:
                    self._lock.wait(0.2)  # every usable worker is busy with another job
                continue
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
            for ref in ready:
                chunk, slot = running.pop(ref)
                asked.pop(chunk.task_id, None)
                latest.pop(chunk.task_id, None)
                try:
                    results[chunk.index] = ray.get(ref)
                    self._release(slot, chunk)
                except ray.exceptions.RayActorError as e:
                    self._lost(slot, e)
                    attempts[chunk.index] += 1
                    if attempts[chunk.index] > max(3, len(self.slots)):
                        raise NoWorkerError(f"chunk {chunk.task_id} failed on {attempts[chunk.index]} workers") from e
                    print(f"Ray: {slot.name} died running {chunk.task_id}; running it again on another worker",
                          file=sys.stderr, flush=True)
                    pending.appendleft(chunk)
                except Exception as e:
                    if _is_missing_checkpoint(e):
                        self._mark_missing(slot, chunk.checkpoint, e)
                        pending.appendleft(chunk)
                        continue
                    self._release(slot)
                    for other_chunk, other in running.values():  # the job failed: its other chunks stop
                        other.actor.interrupt.remote(other_chunk.task_id)
                    raise _unwrapped(e)
            request = control() if control is not None else None
            if request == "interrupt" and not interrupted:
                interrupted = True
                for chunk, slot in running.values():
                    slot.actor.interrupt.remote(chunk.task_id)
            elif request == "skip":
                for chunk, slot in running.values():
                    slot.actor.skip.remote(chunk.task_id)
            if on_progress is not None:
                self._poll_progress(running, asked, latest)
                done = sum(c.count for c in chunks if c.index in results)
                first = next(iter(latest.values()), {})
                on_progress({"done": done, "job_no": done + sum(v.get("job_no", 0) for v in latest.values()),
                             "sampling_step": first.get("sampling_step", 0),
                             "sampling_steps": first.get("sampling_steps", 0), "latent": first.get("latent"),
                             "workers": [slot.name for _, slot in running.values()]})
        return [results[c.index] for c in chunks if c.index in results]

    def _poll_progress(self, running: dict[Any, tuple[Chunk, WorkerSlot]], asked: dict[str, tuple[Any, float]],
                       latest: dict[str, dict[str, Any]]) -> None:
        now = time.time()
        for chunk, slot in running.values():
            ref, when = asked.get(chunk.task_id, (None, 0.0))
            if ref is not None:
                ready, _ = self.ray.wait([ref], timeout=0)
                if ready:
                    try:
                        latest[chunk.task_id] = self.ray.get(ref) or {}
                    except Exception:  # the worker died: its run() call says so
                        pass
                    asked[chunk.task_id] = (None, when)
                continue
            if now - when >= PROGRESS_S:
                asked[chunk.task_id] = (slot.actor.progress.remote(chunk.task_id, True), now)

    def _lost(self, slot: WorkerSlot, error: BaseException) -> None:
        with self._lock:
            slot.task = None
            slot.status = "restarting"
            slot.reason = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            slot.ping = None
            self._lock.notify_all()

    def _mark_missing(self, slot: WorkerSlot, checkpoint: str | None, error: BaseException) -> None:
        reason = str(getattr(error, "cause", None) or error).splitlines()[-1]
        print(f"Ray: {slot.name} skipped for {checkpoint}: {reason}", file=sys.stderr, flush=True)
        with self._lock:
            slot.task = None
            slot.missing[checkpoint or ""] = reason
            self._lock.notify_all()

    def shutdown(self) -> None:
        """Stop every worker actor."""
        with self._lock:
            slots, self.slots = self.slots, []
        for slot in slots:
            try:
                self.ray.kill(slot.actor, no_restart=True)
            except Exception:  # already gone
                pass


def _is_missing_checkpoint(error: BaseException) -> bool:
    return isinstance(error, CheckpointMissingError) or isinstance(getattr(error, "cause", None),
                                                                     CheckpointMissingError)


def _unwrapped(error: BaseException) -> BaseException:
    """The worker's own exception (with its class, so the API maps it as a local failure) when Ray carried one."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, BaseException) else error


def _torch_threads() -> int | None:
    """This process's torch thread count (workers on this machine use the same), None before torch is loaded."""
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else None
