"""Task ids and A1111's pending/current/finished bookkeeping (A1111's ``modules.progress``).

The bookkeeping lives in the one job queue (:mod:`modules.runtime.jobs`); these are A1111's
names for code that runs a task itself under ``queue_lock`` (extensions, older UI code).  Jobs
run through :func:`modules.runtime.jobs.run_job` are tracked without calling any of them.
``POST /internal/progress`` is answered by :mod:`modules.api.routes_progress`.
"""
from __future__ import annotations

import random
import string
from typing import Any

from modules.runtime.jobs import job_queue

recorded_results_limit = 2
"""How many finished UI results are kept so a reloaded page can show them again."""
recorded_results: list[tuple[str, Any]] = []


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
    recorded_results.append((id_task, res))
    del recorded_results[:-recorded_results_limit]


def restore_progress(id_task: str) -> Any:
    """The recorded result of ``id_task`` once it has finished (waits while it is queued or running)."""
    job = job_queue().get(id_task)
    if job is not None:
        job.done.wait()
    return next((res for task, res in recorded_results if task == id_task), None)


def get_pending_tasks() -> dict[str, Any]:
    """``GET /internal/pending-tasks``: ``{size, tasks}`` (ids of queued tasks, in order)."""
    tasks = [job.task_id for job in job_queue().pending()]
    return {"size": len(tasks), "tasks": tasks}
