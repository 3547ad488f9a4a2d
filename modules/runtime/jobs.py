"""The one job queue: every generation, from the UI or the API, runs here one at a time in arrival order.

A job is a callable with a task id (A1111's ``task(txt2img-XXXXXXX)``).  :func:`run_job` waits
for the result (the synchronous API routes, the UI); :meth:`JobQueue.submit` returns at once
(the asynchronous API).  One worker thread runs the jobs; each holds the FIFO ``queue_lock``
while it runs, so the other users of that lock (extras, refresh routes, model switches) queue
in the same line.  While a job runs, ``shared.state`` describes it (``state.current_task_id``);
its live previews are kept on its own :class:`Job` record, so a client asking about one task
never sees another task's pictures.

Code that must hold ``queue_lock`` itself (A1111-style extensions) can still announce its task
with :meth:`JobQueue.track_external` / :meth:`JobQueue.start_external` / :meth:`JobQueue.finish_external`
(``modules.progress`` wraps these under A1111's names).
"""
from __future__ import annotations

import collections
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)


class DuplicateTaskError(ValueError):
    """A task id that is already queued or running was submitted again."""


class JobCancelledError(RuntimeError):
    """The job was cancelled before it produced anything."""


@dataclass(eq=False)
class Job:
    """One unit of work and what is known about it."""

    task_id: str
    fn: Callable[[], Any] | None
    name: str = "job"
    """Written to ``shared.state.job`` while the job runs (A1111: ``scripts_txt2img``)."""
    kind: str = "job"
    """What the job is (``txt2img``, ``img2img``, ``ui``...), shown by the async API."""
    keep_result: bool = False
    """Keep :attr:`result` after the job ends (async jobs, fetched later)."""
    external: bool = False
    """Run by its caller under ``queue_lock`` rather than by the worker (see ``modules.progress``)."""
    status: str = QUEUED
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: Any = None
    error: BaseException | None = None
    cancel_requested: bool = False
    progress: float = 0.0
    """Fraction done, frozen when the job ends (live values come from ``shared.state`` while it runs)."""
    preview: Any = None
    """The latest live preview (a PIL image) of this job."""
    preview_id: int = 0
    """Increases with each new preview, so a client can ask only for newer ones."""
    preview_step: int = 0
    """The sampling step the preview shows."""
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    callbacks: list[Callable[["Job"], None]] = field(default_factory=list, repr=False)
    seq: int = 0
    """Arrival order."""
    meta: Any = None
    """Whatever the submitter needs later (the API keeps the prepared request to build the answer)."""

    @property
    def finished_ok(self) -> bool:
        return self.status == DONE

    def take_result(self) -> Any:
        """The result (dropped from the record, which outlives it) or the job's exception raised."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        if self.status == CANCELLED and self.result is None:
            raise JobCancelledError(f"task {self.task_id} was cancelled")
        result, self.result = self.result, None
        return result

    def add_done_callback(self, callback: Callable[["Job"], None]) -> None:
        """Call ``callback(job)`` when the job ends (at once if it already has), from the worker thread."""
        run_now = False
        with _CALLBACK_LOCK:
            if self.done.is_set():
                run_now = True
            else:
                self.callbacks.append(callback)
        if run_now:
            callback(self)


_CALLBACK_LOCK = threading.Lock()


class JobQueue:
    """Runs jobs one at a time, in the order they were submitted, on one worker thread."""

    history_limit = 64
    """Finished jobs remembered (for ``/internal/progress`` "completed" and the async API)."""
    kept_results_limit = 16
    """Finished jobs whose results are kept for fetching; older ones drop their result first."""

    def __init__(self, lock: Any = None, state_getter: Callable[[], Any] | None = None) -> None:
        self._lock = lock
        self._state_getter = state_getter
        self._cond = threading.Condition()
        self._queue: collections.deque[Job] = collections.deque()
        self._jobs: dict[str, Job] = {}
        self._finished: collections.deque[str] = collections.deque()
        self._current: Job | None = None
        self._starting: Job | None = None
        self._worker: threading.Thread | None = None
        self._seq = itertools.count(1)

    # --- wiring ---------------------------------------------------------------------------------------------
    def _queue_lock(self) -> Any:
        if self._lock is None:
            from modules.call_queue import queue_lock

            self._lock = queue_lock
        return self._lock

    def state(self) -> Any:
        """The live ``shared.state`` (read on every use: the bootstrap may replace it)."""
        if self._state_getter is not None:
            return self._state_getter()
        from modules import shared

        return shared.state

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="job-worker", daemon=True)
            self._worker.start()

    def in_worker(self) -> bool:
        """True on the worker thread (a job submitting a job runs it inline instead of deadlocking)."""
        return threading.current_thread() is self._worker

    # --- submitting -----------------------------------------------------------------------------------------
    def submit(self, fn: Callable[[], Any], *, task_id: str, name: str = "job", kind: str = "job",
               keep_result: bool = False, meta: Any = None) -> Job:
        """Queue ``fn`` as task ``task_id``; returns its :class:`Job` at once.

        Raises :class:`DuplicateTaskError` when ``task_id`` is already queued or running.
        """
        with self._cond:
            self._check_new(task_id)
            job = Job(task_id, fn, name=name, kind=kind, keep_result=keep_result, seq=next(self._seq), meta=meta)
            self._jobs[task_id] = job
            self._queue.append(job)
            self._ensure_worker()
            self._cond.notify_all()
        return job

    def run(self, fn: Callable[[], Any], *, task_id: str, name: str = "job", kind: str = "job") -> Any:
        """Queue ``fn``, wait for it, return its result or raise its exception."""
        if self.in_worker():
            return fn()
        job = self.submit(fn, task_id=task_id, name=name, kind=kind)
        job.done.wait()
        return job.take_result()

    def _check_new(self, task_id: str) -> None:
        old = self._jobs.get(task_id)
        # a task announced with track_external (A1111's add_task_to_queue) may then be run through the queue
        if old is not None and old.status not in FINISHED and not (old.external and old.status == QUEUED):
            raise DuplicateTaskError(f"task {task_id} is already {old.status}")
        if old is not None:
            self._forget(task_id)

    # --- the worker -----------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                job = self._queue.popleft()
                self._starting = job
            lock = self._queue_lock()
            lock.acquire()
            try:
                self._run_one(job)
            finally:
                lock.release()

    def _run_one(self, job: Job) -> None:
        with self._cond:
            self._starting = None
            if job.status == CANCELLED:
                return
            self._begin(job)
        try:
            result = job.fn() if job.fn is not None else None
            error = None
        except BaseException as e:  # noqa: BLE001 - the job's own failure, handed to whoever waits for it
            result, error = None, e
        with self._cond:
            job.result = result
            job.error = error
            if job.cancel_requested:
                job.status = CANCELLED
            else:
                job.status = DONE if error is None else FAILED
            self._end(job)
        self._notify(job)

    def _begin(self, job: Job) -> None:
        """Make ``job`` the running one (caller holds ``_cond``)."""
        job.status = RUNNING
        job.started = time.time()
        self._current = job
        state = self.state()
        if state is not None:
            state.begin(job=job.name, task_id=job.task_id)

    def _end(self, job: Job) -> None:
        """Record the end of ``job`` (caller holds ``_cond``)."""
        state = self.state()
        if state is not None:
            job.progress = 1.0 if job.status == DONE else _state_progress(state)
            state.end()
        elif job.status == DONE:
            job.progress = 1.0
        job.finished = time.time()
        if self._current is job:
            self._current = None
        if not job.keep_result:
            job.fn = None
        self._finished.append(job.task_id)
        self._trim_history()

    def _notify(self, job: Job) -> None:
        with _CALLBACK_LOCK:
            job.done.set()
            callbacks, job.callbacks = job.callbacks, []
        for callback in callbacks:
            try:
                callback(job)
            except Exception:  # a waiter that went away must not stop the worker
                import traceback

                traceback.print_exc()

    def _trim_history(self) -> None:
        while len(self._finished) > self.history_limit:
            self._forget(self._finished[0])
        holding = [tid for tid in self._finished
                   if self._jobs[tid].result is not None or self._jobs[tid].meta is not None]
        for tid in holding[:max(0, len(holding) - self.kept_results_limit)]:
            old = self._jobs[tid]
            old.result = None
            old.meta = None
            old.preview = None

    def _forget(self, task_id: str) -> None:
        self._jobs.pop(task_id, None)
        try:
            self._finished.remove(task_id)
        except ValueError:
            pass

    # --- reading --------------------------------------------------------------------------------------------
    def get(self, task_id: str | None) -> Job | None:
        with self._cond:
            return self._jobs.get(task_id) if task_id is not None else None

    def current(self) -> Job | None:
        """The running job, or None."""
        with self._cond:
            return self._current

    def pending(self) -> list[Job]:
        """Jobs waiting to run, in the order they will run."""
        with self._cond:
            return self._pending_locked()

    def _pending_locked(self) -> list[Job]:
        waiting = [j for j in self._jobs.values() if j.external and j.status == QUEUED]
        waiting += [self._starting] if self._starting is not None else []
        waiting += list(self._queue)
        return sorted(waiting, key=lambda j: j.seq)

    def position(self, job: Job) -> int | None:
        """0 while running, n >= 1 while n-th in line, None once finished."""
        with self._cond:
            if job.status == RUNNING:
                return 0
            if job.status != QUEUED:
                return None
            pending = self._pending_locked()
            return pending.index(job) + 1 if job in pending else None

    def jobs(self) -> list[Job]:
        """Every remembered job, oldest first."""
        with self._cond:
            return sorted(self._jobs.values(), key=lambda j: j.seq)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or running; False on timeout."""
        deadline = None if timeout is None else time.time() + timeout
        with self._cond:
            while self._queue or self._current is not None or self._starting is not None:
                remaining = None if deadline is None else deadline - time.time()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.05 if remaining is None else min(0.05, remaining))
        return True

    # --- stopping -------------------------------------------------------------------------------------------
    def cancel(self, task_id: str) -> Job | None:
        """Cancel a queued job, or interrupt it if it runs (only it: the next job starts normally).

        Returns the job (None when unknown); a finished job is left as it is.
        """
        with self._cond:
            job = self._jobs.get(task_id)
            if job is None or job.status in FINISHED:
                return job
            job.cancel_requested = True
            if job.status == QUEUED:
                if job in self._queue:
                    self._queue.remove(job)
                job.status = CANCELLED
                job.finished = time.time()
                job.fn = None
                self._finished.append(job.task_id)
                self._trim_history()
                notify = not job.external
            else:
                state = self.state()
                # begin/end happen under this lock, so the state still describes this very job
                if state is not None and getattr(state, "current_task_id", None) == task_id:
                    state.interrupt()
                notify = False
        if notify:
            self._notify(job)
        return job

    def forget(self, task_id: str) -> bool:
        """Drop a finished job's record and result; False when it is unknown or not finished."""
        with self._cond:
            job = self._jobs.get(task_id)
            if job is None or job.status not in FINISHED:
                return False
            self._forget(task_id)
            return True

    # --- jobs run by their callers (A1111's add_task_to_queue / start_task / finish_task) --------------------
    def track_external(self, task_id: str, name: str = "job", kind: str = "ui") -> Job:
        """Announce a task its caller will run itself under ``queue_lock``."""
        with self._cond:
            old = self._jobs.get(task_id)
            if old is not None and old.status not in FINISHED:
                return old
            job = Job(task_id, None, name=name, kind=kind, external=True, seq=next(self._seq))
            self._forget(task_id)
            self._jobs[task_id] = job
            return job

    def start_external(self, task_id: str) -> None:
        """The caller holds ``queue_lock`` and starts the task (its ``state.begin`` is the caller's)."""
        with self._cond:
            job = self._jobs.get(task_id)
            if job is None or job.status in FINISHED:
                job = Job(task_id, None, external=True, kind="ui", seq=next(self._seq))
                self._forget(task_id)
                self._jobs[task_id] = job
            job.status = RUNNING
            job.started = time.time()
            self._current = job

    def finish_external(self, task_id: str, result: Any = None) -> None:
        """The caller's task ended."""
        with self._cond:
            job = self._jobs.get(task_id)
            if job is None:
                return
            state = self.state()
            job.progress = _state_progress(state) if state is not None and job.status == RUNNING else job.progress
            job.status = DONE
            job.finished = time.time()
            job.result = result if job.keep_result else None
            if self._current is job:
                self._current = None
            if task_id not in self._finished:
                self._finished.append(task_id)
            self._trim_history()
        self._notify(job)

    # --- live previews ----------------------------------------------------------------------------------------
    def refresh_preview(self, job: Job, *, force: bool = False) -> None:
        """Decode the running job's latest latent into :attr:`Job.preview` when enough steps have passed."""
        from modules.processing import live_preview

        state = self.state()
        if state is None or job.status != RUNNING:
            return
        step = getattr(state, "sampling_step", 0)
        if not force and not live_preview.preview_due(step, job.preview_step, job.preview is None):
            return
        latent = getattr(state, "current_latent", None)
        if latent is None or not self._state_is_of(state, job):
            return
        image = live_preview.latent_to_preview(latent)
        if image is None:
            return
        with self._cond:
            # the job may have ended while decoding: its state now belongs to another task
            if job.status != RUNNING or not self._state_is_of(state, job):
                return
            job.preview = image
            job.preview_id += 1
            job.preview_step = step
            assign = getattr(state, "assign_current_image", None)
            if assign is not None:
                assign(image)


    @staticmethod
    def _state_is_of(state: Any, job: Job) -> bool:
        # jobs run by their callers began the state themselves, without a task id to compare
        return job.external or getattr(state, "current_task_id", None) == job.task_id


def _state_progress(state: Any) -> float:
    progress = getattr(state, "progress", None)
    try:
        return float(progress()) if callable(progress) else 0.0
    except (TypeError, ValueError, ZeroDivisionError):
        return 0.0


_QUEUE: JobQueue | None = None
_QUEUE_GUARD = threading.Lock()


def job_queue() -> JobQueue:
    """The process's job queue (created on first use, bound to ``modules.call_queue.queue_lock``)."""
    global _QUEUE
    with _QUEUE_GUARD:
        if _QUEUE is None:
            _QUEUE = JobQueue()
        return _QUEUE


def run_job(task_id: str, fn: Callable[[], Any], *, name: str = "job", kind: str = "job") -> Any:
    """Run ``fn`` as task ``task_id`` through the one queue and return its result (the UI's entry point)."""
    return job_queue().run(fn, task_id=task_id, name=name, kind=kind)


def submit(task_id: str, fn: Callable[[], Any], *, name: str = "job", kind: str = "job",
           keep_result: bool = True) -> Job:
    """Queue ``fn`` as task ``task_id`` and return its :class:`Job` at once."""
    return job_queue().submit(fn, task_id=task_id, name=name, kind=kind, keep_result=keep_result)
