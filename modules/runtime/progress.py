"""Task ids and A1111's pending/current/finished bookkeeping (A1111's ``modules.progress``).

The bookkeeping lives in the one job queue (:mod:`modules.runtime.jobs`); these are A1111's
names for code that runs a task itself under ``queue_lock`` (extensions, older UI code).  Jobs
run through :func:`modules.runtime.jobs.run_job` are tracked without calling any of them.
``POST /internal/progress`` is answered by :mod:`modules.api.routes_progress`.
"""
from __future__ import annotations

import random
import string
import threading
from typing import Any

from modules.runtime.jobs import job_queue

recorded_results_limit = 2
"""How many finished UI results are kept so a reloaded page can show them again."""
recorded_results: list[tuple[str, Any]] = []
_results_recorded = threading.Condition()
RESULT_WAIT_S = 60.0
"""How long :func:`restore_progress` waits, after the job ended, for the thread that ran it to record its outputs
(turning pictures into gallery entries takes a moment after the queue marks the job done)."""


def create_task_id(task_type: str) -> str:
    """A new task id such as ``task(txt2img-A1B2C3D)`` (seven random upper-case letters and digits)."""
    suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=7))
    return f"task({task_type}-{suffix})"


def add_task_to_queue(id_job: str | None) -> None:
    """Announce a task its caller will run (it shows as queued until :func:`start_task`)."""
    if id_job:
        job_queue().track_external(id_job)


def start_task(id_task: str | None) -> None:
    """The announced task starts (the caller holds ``queue_lock``)."""
    if id_task:
        job_queue().start_external(id_task)


def finish_task(id_task: str | None) -> None:
    """The task ended."""
    if id_task:
        job_queue().finish_external(id_task)


def record_results(id_task: str | None, res: Any) -> None:
    """Keep ``res`` of a UI task for :func:`restore_progress` (the last :data:`recorded_results_limit`)."""
    if not id_task:
        return
    with _results_recorded:
        recorded_results.append((id_task, res))
        del recorded_results[:-recorded_results_limit]
        _results_recorded.notify_all()


def _recorded(id_task: str) -> tuple[bool, Any]:
    for task, res in recorded_results:
        if task == id_task:
            return True, res
    return False, None


def restore_progress(id_task: str) -> Any:
    """The recorded result of ``id_task`` once it has finished (waits while it is queued or running, then for its
    outputs to be recorded); None for a task this server never ran or no longer remembers."""
    job = job_queue().get(id_task)
    if job is None:
        return _recorded(id_task)[1]
    job.done.wait()
    with _results_recorded:
        _results_recorded.wait_for(lambda: _recorded(id_task)[0], timeout=RESULT_WAIT_S)
        return _recorded(id_task)[1]


def get_pending_tasks() -> dict[str, Any]:
    """``GET /internal/pending-tasks``: ``{size, tasks}`` (ids of queued tasks, in order)."""
    tasks = [job.task_id for job in job_queue().pending()]
    return {"size": len(tasks), "tasks": tasks}
