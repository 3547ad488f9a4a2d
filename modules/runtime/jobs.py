"""The one job queue: every generation, from the UI or the API, runs here in arrival order.

A job is a callable with a task id (A1111's ``task(txt2img-XXXXXXX)``).  :func:`run_job` waits
for the result (the synchronous API routes, the UI); :meth:`JobQueue.submit` returns at once
(the asynchronous API).  A worker thread runs each job; each holds the FIFO ``queue_lock``
while it runs, so the other users of that lock (extras, refresh routes, model switches) queue
in the same line.  While a job runs, the services' ``state`` (A1111's ``shared.state``)
describes it (``state.current_task_id``); its live previews are kept on its own :class:`Job`
record, so a client asking about one task never sees another task's pictures.

By default one job runs at a time.  With several slots (:meth:`JobQueue.set_slots`: ``--ray`` sets one per
worker actor) as many worker threads take jobs in order, each job gets a state of its own
(:class:`~modules.runtime.state.JobState`, which ``services.state`` is inside that job) and they still take
``queue_lock`` in turn: a job whose pictures are made elsewhere lends the lock while it waits for them
(``queue_lock.lent()``), so the next job starts meanwhile, while work done in this process stays one at a time.

Code that must hold ``queue_lock`` itself (A1111-style extensions) can still announce its task
with :meth:`JobQueue.track_external` / :meth:`JobQueue.start_external` / :meth:`JobQueue.finish_external`
(``modules.runtime.progress`` wraps these under A1111's names).

Asynchronous jobs (submitted with their ``request``) are also written to a :class:`JobStore`
(attached by the bootstrap, :func:`attach_job_store`): each state change is stored before
anyone is told of it, so after a restart finished results are still readable, jobs that were
queued resume in their order once their :class:`JobKind` is registered, and a job that was
running is failed with :data:`INTERRUPTED`.  Storage failures are printed and never stop the
queue.  Synchronous and UI jobs stay in memory.
"""
from __future__ import annotations

import collections
import contextlib
import itertools
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from modules.core.services import current_services, job_state_scope
from modules.processing import live_preview
from modules.runtime.job_instruments import instrumented
from modules.runtime.job_kinds import INTERRUPTED, JobInterruptedError, JobKind, StoredAnswer, StoredJobError
from modules.runtime.job_kinds import interrupted_record
from modules.runtime.job_store import CANCELLED, DONE, FAILED, FINISHED, QUEUED, RUNNING, JobStore, StoredJob
from modules.runtime.queue_lock import queue_lock
from modules.runtime.state import JobState

__all__ = ["CANCELLED", "DONE", "FAILED", "FINISHED", "QUEUED", "RUNNING", "INTERRUPTED", "DuplicateTaskError",
           "Job", "JobCancelledError", "JobInterruptedError", "JobKind", "JobQueue", "QueueFullError",
           "StoredJobError", "attach_job_store", "job_queue", "run_job", "submit"]


class DuplicateTaskError(ValueError):
    """A task id that is already queued or running was submitted again."""


class JobCancelledError(RuntimeError):
    """The job was cancelled before it produced anything."""


class QueueFullError(RuntimeError):
    """Too many asynchronous jobs are waiting: a new one is refused until some have run."""


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
    """Run by its caller under ``queue_lock`` rather than by the worker (see ``modules.runtime.progress``)."""
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
    durable: bool = False
    """Submitted with its request to be stored (an asynchronous job): it counts against the waiting-jobs cap."""
    store: Any = None
    """The :class:`JobStore` holding this job (None while it is only in memory)."""
    store_key: int | None = None
    """Its row in :attr:`store`."""
    memory: Any = None
    """Device memory peaks while it ran (:class:`modules.runtime.job_instruments.MemoryStats`; None off CUDA)."""
    profile: str | None = None
    """The torch profiler trace it wrote (setting ``profiling_enable``), else None."""
    state: Any = None
    """Its own :class:`~modules.runtime.state.JobState` when it ran beside other jobs (None: the process's)."""

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
    """Runs jobs in the order they were submitted: one at a time, or up to :meth:`slots` at once."""

    history_limit = 64
    """Finished jobs remembered (for ``/internal/progress`` "completed" and the async API)."""
    kept_results_limit = 16
    """Finished jobs whose results are kept for fetching; older ones drop their result first.
    The store follows both limits: forgotten jobs lose their row and pictures, dropped results their pictures."""
    max_waiting_durable = 100
    """Asynchronous jobs that may wait at once; one more is refused with :class:`QueueFullError`."""

    def __init__(self, lock: Any = None, state_getter: Callable[[], Any] | None = None) -> None:
        self._lock = lock
        self._state_getter = state_getter
        self._cond = threading.Condition()
        self._queue: collections.deque[Job] = collections.deque()
        self._jobs: dict[str, Job] = {}
        self._finished: collections.deque[str] = collections.deque()
        self._running: list[Job] = []
        """Running jobs, in the order they started (external ones included)."""
        self._starting: list[Job] = []
        """Jobs taken from the line by a worker thread, waiting for ``queue_lock``."""
        self._workers: list[threading.Thread] = []
        self._slots = 1
        self._finishing = 0
        """Jobs ended whose store writes and waiters are still being told (:meth:`wait_idle` waits for them)."""
        self._seq = itertools.count(1)
        self._stopped = False
        self._store: JobStore | None = None
        self._kinds: dict[str, JobKind] = {}
        self._parked: list[Job] = []
        """Jobs restored from the store as queued, waiting for their kind to be registered."""
        self._store_ops: list[Callable[[], None]] = []
        """Store writes decided under ``_cond``, done once it is released (see :meth:`_flush_store_ops`)."""

    # --- wiring ---------------------------------------------------------------------------------------------
    def _queue_lock(self) -> Any:
        if self._lock is None:
            self._lock = queue_lock
        return self._lock

    def state(self) -> Any:
        """The process's live state (``current_services().state`` outside any job, read on every use: the
        bootstrap may replace it)."""
        if self._state_getter is not None:
            return self._state_getter()
        return current_services().process_state

    def state_of(self, job: Job | None) -> Any:
        """The state describing ``job`` while it runs: its own when it runs beside others, else the process's."""
        if job is not None and job.state is not None:
            return job.state
        return self.state()

    def running_states(self) -> list[Any]:
        """The process's state and the own state of every job running beside others (interrupt/skip without a
        task id reach them all)."""
        with self._cond:
            own = [job.state for job in self._running if job.state is not None]
        process = self.state()
        return ([process] if process is not None else []) + own

    @property
    def slots(self) -> int:
        """How many jobs may run at once (1 unless :meth:`set_slots` said more)."""
        return self._slots

    def set_slots(self, count: int) -> None:
        """Run up to ``count`` jobs at once from now on (``--ray``: one per worker actor; 1 restores the default).
        Jobs already running go on; fewer slots take effect as they end."""
        with self._cond:
            self._slots = max(1, int(count))
            if self._queue:
                self._ensure_worker()
            self._cond.notify_all()

    def _ensure_worker(self) -> None:
        """Start worker threads up to the slot count (caller holds ``_cond``)."""
        if self._stopped:
            return
        self._workers = [worker for worker in self._workers if worker.is_alive()]
        while len(self._workers) < self._slots:
            worker = threading.Thread(target=self._work, name=f"job-worker-{len(self._workers) + 1}", daemon=True)
            self._workers.append(worker)
            worker.start()

    def in_worker(self) -> bool:
        """True on a worker thread (a job submitting a job runs it inline instead of deadlocking)."""
        return threading.current_thread() in self._workers

    def _taken(self) -> int:
        """Jobs the worker threads run or are starting (caller holds ``_cond``)."""
        return len(self._starting) + sum(1 for job in self._running if not job.external)

    # --- submitting -----------------------------------------------------------------------------------------
    def submit(self, fn: Callable[[], Any], *, task_id: str, name: str = "job", kind: str = "job",
               keep_result: bool = False, meta: Any = None, request: dict[str, Any] | None = None) -> Job:
        """Queue ``fn`` as task ``task_id``; returns its :class:`Job` at once.

        With ``request`` (the JSON body of an asynchronous job) the job is durable: it is stored,
        when a store is attached, before this returns, and refused with :class:`QueueFullError`
        when :attr:`max_waiting_durable` such jobs already wait.
        Raises :class:`DuplicateTaskError` when ``task_id`` is already queued or running.
        """
        with self._cond:
            if self._stopped:
                raise RuntimeError("the job queue is stopped")
            self._check_new(task_id)
            if request is not None:
                self._check_room()
            job = Job(task_id, fn, name=name, kind=kind, keep_result=keep_result, seq=next(self._seq), meta=meta,
                      durable=request is not None)
            self._jobs[task_id] = job
            store = self._store if request is not None else None
            if store is None:
                self._enqueue(job)
        self._flush_store_ops()
        if store is None:
            return job
        # written outside the lock (pictures can be large); the job is known but not in line meanwhile
        key = self._guarded(lambda: store.add(task_id, kind, name, job.created, request), f"store {task_id}")
        with self._cond:
            if key is not None:
                job.store, job.store_key = store, key
            if job.status == QUEUED:
                self._enqueue(job)
            else:  # cancelled while being stored
                self._schedule_end(job)
        self._flush_store_ops()
        return job

    def _enqueue(self, job: Job) -> None:
        """Put ``job`` in line (caller holds ``_cond``)."""
        self._queue.append(job)
        self._ensure_worker()
        self._cond.notify_all()

    def _check_room(self) -> None:
        waiting = sum(1 for j in self._jobs.values() if j.durable and j.status == QUEUED)
        if waiting >= self.max_waiting_durable:
            raise QueueFullError(f"The job queue is full: {waiting} asynchronous jobs are waiting (the limit is "
                                 f"{self.max_waiting_durable}); try again when some have run")

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
                while (not self._queue or self._taken() >= self._slots) and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                job = self._queue.popleft()
                self._starting.append(job)
            lock = self._queue_lock()
            lock.acquire()
            try:
                self._run_one(job)
            finally:
                lock.release()

    def _run_one(self, job: Job) -> None:
        with self._cond:
            self._starting.remove(job)
            self._cond.notify_all()
            if self._stopped and job.status == QUEUED:
                self._queue.appendleft(job)  # stopped while waiting for the lock: it stays queued
                return
            if job.status == CANCELLED:
                return
            if self._slots > 1:  # jobs may run side by side: this one's progress and interrupt are its own
                job.state = JobState(self.state())
            self._begin(job)
        if job.store is not None:
            self._guarded(lambda: job.store.set_running(job.store_key, job.started), f"store {job.task_id}")
        try:
            with (job_state_scope(job.state) if job.state is not None else contextlib.nullcontext()), \
                    instrumented(job):
                result = job.fn() if job.fn is not None else None
            error = None
        except BaseException as e:  # noqa: BLE001 - the job's own failure, handed to whoever waits for it
            result, error = None, e
        # decided once: what is stored is what is told (a cancel arriving from now on comes too late)
        job.result, job.error = result, error
        status = CANCELLED if job.cancel_requested else (DONE if error is None else FAILED)
        state = self.state_of(job)
        progress = 1.0 if status == DONE or state is None else _state_progress(state)
        finished = time.time()
        if job.store is not None:
            self._store_end(job, status, finished, progress)
        with self._cond:
            job.status = status
            self._end(job, progress, finished)
            self._finishing += 1
        try:
            self._flush_store_ops()
            self._notify(job)
        finally:
            with self._cond:
                self._finishing -= 1
                self._cond.notify_all()

    def _begin(self, job: Job) -> None:
        """Make ``job`` the running one (caller holds ``_cond``)."""
        job.status = RUNNING
        job.started = time.time()
        self._running.append(job)
        state = self.state_of(job)
        if state is not None:
            state.begin(job=job.name, task_id=job.task_id)

    def _end(self, job: Job, progress: float, finished: float) -> None:
        """Record the end of ``job`` (caller holds ``_cond``)."""
        state = self.state_of(job)
        if state is not None:
            state.end()
        job.progress = progress
        job.finished = finished
        if job in self._running:
            self._running.remove(job)
        self._cond.notify_all()  # a slot is free
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
            if old.store is not None:
                self._schedule(old, lambda store, key: store.drop_result(key))

    def _forget(self, task_id: str) -> None:
        job = self._jobs.pop(task_id, None)
        try:
            self._finished.remove(task_id)
        except ValueError:
            pass
        if job is not None and job.store is not None:
            self._schedule(job, lambda store, key: store.delete(key))

    # --- the store --------------------------------------------------------------------------------------------
    def _guarded(self, write: Callable[[], Any], what: str) -> Any:
        """Run a store operation; a failure is printed and the queue goes on in memory (None is returned)."""
        try:
            return write()
        except Exception as e:  # a full disk or a broken database must never stop the jobs themselves
            print(f"*** Job store: could not {what}: {e}", file=sys.stderr, flush=True)
            traceback.print_exc()
            return None

    def _schedule(self, job: Job, op: Callable[[JobStore, int], None]) -> None:
        """Queue a write about ``job`` for :meth:`_flush_store_ops` (caller holds ``_cond``)."""
        store, key, task_id = job.store, job.store_key, job.task_id
        self._store_ops.append(lambda: self._guarded(lambda: op(store, key), f"update {task_id}"))

    def _schedule_end(self, job: Job) -> None:
        """Store the end of a job that ended without running (cancelled while queued; caller holds ``_cond``)."""
        if job.store is not None:
            status, finished, progress = job.status, job.finished or time.time(), job.progress
            self._schedule(job, lambda store, key: store.set_finished(key, status, finished, progress))

    def _flush_store_ops(self) -> None:
        """Do the store writes decided under ``_cond`` (file and database work never holds the queue's lock)."""
        with self._cond:
            ops, self._store_ops = self._store_ops, []
        for op in ops:
            op()

    def _store_end(self, job: Job, status: str, finished: float, progress: float) -> None:
        """Store how ``job`` ended, its result through its kind, before anyone is told."""
        kind = self._kinds.get(job.kind)
        error, failure = None, job.error
        if failure is not None:
            describe = (kind or JobKind()).describe_error
            error = self._guarded(lambda: describe(failure), f"describe the error of {job.task_id}")
        result = None
        if kind is not None and job.error is None and job.result is not None:
            result = self._guarded(lambda: kind.result_to_store(job), f"keep the result of {job.task_id}")
        self._guarded(lambda: job.store.set_finished(job.store_key, status, finished, progress, error, result),
                      f"store the end of {job.task_id}")

    def attach_store(self, store: JobStore | None) -> None:
        """Store asynchronous jobs in ``store`` from now on, and take back what it holds (the bootstrap calls this).

        Jobs it says are running were running when the process stopped: they are failed with
        :data:`INTERRUPTED`.  Finished jobs are remembered again (their results read from disk when
        asked for) under the same limits; queued ones wait for their kind (:meth:`register_kinds`).
        Attaching the store already attached does nothing; ``None`` detaches (and closes) it.
        """
        with self._cond:
            old = self._store
            if store is not None and old is not None and old.same_place(store):
                return
            self._store = None
            for job in self._parked:  # restored from the old store, never started: they belong to it
                self._jobs.pop(job.task_id, None)
            self._parked = []
        if old is not None:
            old.close()  # jobs still pointing at it write nothing more
        if store is None:
            return
        records = self._guarded(lambda: self._take_back(store), f"read the job store {store.db_path}")
        with self._cond:
            self._store = store
            self._restore(store, records or [])
        self._flush_store_ops()

    def detach_store(self) -> None:
        """Stop storing jobs (nothing more is written: what the store says stays as it is)."""
        self.attach_store(None)

    def _take_back(self, store: JobStore) -> list[StoredJob]:
        for task_id in store.fail_running(interrupted_record(), time.time()):
            print(f"Job {task_id} was running when the server stopped: marked failed ({INTERRUPTED})", flush=True)
        return store.jobs()

    def _restore(self, store: JobStore, records: list[StoredJob]) -> None:
        """Make jobs of the stored ``records`` (caller holds ``_cond``); live jobs with the same ids win."""
        finished = []
        for record in records:
            if record.task_id in self._jobs:
                continue
            job = Job(record.task_id, None, name=record.name, kind=record.kind, keep_result=True,
                      status=record.status, created=record.created, started=record.started,
                      finished=record.finished, progress=record.progress, seq=next(self._seq), durable=True,
                      store=store, store_key=record.key)
            self._jobs[job.task_id] = job
            if record.status in FINISHED:
                if record.error is not None:
                    error = StoredJobError.from_record(record.error)
                    kind = self._kinds.get(record.kind)
                    job.error = kind.restore_error(error) if kind is not None else error
                if record.has_result:
                    job.meta = StoredAnswer(self._kinds, record.kind, store, record.key)
                job.done.set()
                finished.append(job)
            else:
                job.status = QUEUED
                self._parked.append(job)
        for job in sorted(finished, key=lambda j: (j.finished or 0, j.store_key)):
            self._finished.append(job.task_id)
        self._trim_history()

    def register_kinds(self, kinds: dict[str, JobKind]) -> None:
        """Say how stored jobs of these kinds are rebuilt and kept; restored jobs of these kinds resume, in order.

        Restored jobs start only from here (the API calls this when it is built), never at the
        start-up step that restores them: the model and scripts they need are ready by then.
        """
        with self._cond:
            self._kinds.update(kinds)
            for job in self._jobs.values():  # failures read back from the store answer as the kind says
                if job.kind in kinds and isinstance(job.error, StoredJobError):
                    job.error = kinds[job.kind].restore_error(job.error)
            self._resume_parked()

    def _resume_parked(self) -> None:
        """Put parked jobs whose kind is known in line, in their stored order (caller holds ``_cond``)."""
        ready = [job for job in self._parked if job.kind in self._kinds]
        self._parked = [job for job in self._parked if job.kind not in self._kinds]
        for job in sorted(ready, key=lambda j: j.seq):
            if job.status == QUEUED:
                job.fn = self._rebuilding(job, self._kinds[job.kind])
                self._enqueue(job)

    @staticmethod
    def _rebuilding(job: Job, kind: JobKind) -> Callable[[], Any]:
        """The callable of a restored job: rebuilt from its stored request when it starts (so it holds no memory
        while it waits, and a request that is no longer valid fails only this job)."""
        def run() -> Any:
            request = job.store.request(job.store_key)
            if request is None:
                raise StoredJobError("the stored request of this job could not be read")
            fn, job.meta = kind.rebuild(job.task_id, request)
            return fn()

        return run

    # --- reading --------------------------------------------------------------------------------------------
    def get(self, task_id: str | None) -> Job | None:
        with self._cond:
            return self._jobs.get(task_id) if task_id is not None else None

    def current(self) -> Job | None:
        """The running job (the one that started first, when several run), or None."""
        with self._cond:
            return self._running[0] if self._running else None

    def running(self) -> list[Job]:
        """The running jobs, in the order they started."""
        with self._cond:
            return list(self._running)

    def pending(self) -> list[Job]:
        """Jobs waiting to run, in the order they will run."""
        with self._cond:
            return self._pending_locked()

    def _pending_locked(self) -> list[Job]:
        waiting = [j for j in self._jobs.values() if j.external and j.status == QUEUED]
        waiting += self._starting
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
            while (self._queue and not self._stopped) or self._running or self._starting or self._finishing:
                remaining = None if deadline is None else deadline - time.time()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.05 if remaining is None else min(0.05, remaining))
        return True

    # --- stopping -------------------------------------------------------------------------------------------
    def shutdown(self, timeout: float | None = None) -> bool:
        """Start no more jobs: the running one ends, queued ones stay queued (stored ones resume at the next start).

        Waits up to ``timeout`` seconds for the worker threads to end; False when one is still running a job.
        """
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            workers = [worker for worker in self._workers if worker is not threading.current_thread()]
        deadline = None if timeout is None else time.time() + timeout
        for worker in workers:
            worker.join(None if deadline is None else max(0.0, deadline - time.time()))
        return not any(worker.is_alive() for worker in workers)

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
                self._schedule_end(job)
                self._finished.append(job.task_id)
                self._trim_history()
                notify = not job.external
            else:
                state = self.state_of(job)
                # begin/end happen under this lock, so the state still describes this very job
                if state is not None and (job.state is not None or getattr(state, "current_task_id", None) == task_id):
                    state.interrupt()
                notify = False
        self._flush_store_ops()
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
        self._flush_store_ops()
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
        self._flush_store_ops()
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
            if job not in self._running:
                self._running.append(job)
        self._flush_store_ops()

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
            if job in self._running:
                self._running.remove(job)
                self._cond.notify_all()
            if task_id not in self._finished:
                self._finished.append(task_id)
            self._trim_history()
        self._flush_store_ops()
        self._notify(job)

    # --- live previews ----------------------------------------------------------------------------------------
    def refresh_preview(self, job: Job, *, force: bool = False) -> None:
        """Decode the running job's latest latent into :attr:`Job.preview` when enough steps have passed."""
        state = self.state_of(job)
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
        return job.external or state is job.state or getattr(state, "current_task_id", None) == job.task_id


def _state_progress(state: Any) -> float:
    progress = getattr(state, "progress", None)
    try:
        return float(progress()) if callable(progress) else 0.0
    except (TypeError, ValueError, ZeroDivisionError):
        return 0.0


_QUEUE: JobQueue | None = None
_QUEUE_GUARD = threading.Lock()


def job_queue() -> JobQueue:
    """The process's job queue (created on first use, bound to the process's ``queue_lock``)."""
    global _QUEUE
    with _QUEUE_GUARD:
        if _QUEUE is None:
            _QUEUE = JobQueue()
        return _QUEUE


def attach_job_store(paths: Any) -> None:
    """Keep the asynchronous jobs of the process's queue in the data dir's store (``<cache dir>/jobs.sqlite3``)."""
    job_queue().attach_store(JobStore.for_paths(paths))


def run_job(task_id: str, fn: Callable[[], Any], *, name: str = "job", kind: str = "job") -> Any:
    """Run ``fn`` as task ``task_id`` through the one queue and return its result (the UI's entry point)."""
    return job_queue().run(fn, task_id=task_id, name=name, kind=kind)


def submit(task_id: str, fn: Callable[[], Any], *, name: str = "job", kind: str = "job",
           keep_result: bool = True) -> Job:
    """Queue ``fn`` as task ``task_id`` and return its :class:`Job` at once."""
    return job_queue().submit(fn, task_id=task_id, name=name, kind=kind, keep_result=keep_result)
