"""Progress, interrupt and skip: ``/sdapi/v1/progress|interrupt|skip`` and ``/internal/progress|pending-tasks``.

``/sdapi/v1/progress`` describes the running job, whoever submitted it (A1111's contract; when several
run at once under ``--ray``, the one that started first); ``/sdapi/v1/interrupt`` and ``/skip`` name no
task and reach every running job; ``/internal/progress`` and the async job API answer for one task id,
from that task's own state, with its own live preview only.  None of these wait for the queue.
"""
from __future__ import annotations

import time
from typing import Any

from fastapi import Depends, Query

from modules.api import models
from modules.api.images import encode_pil_to_base64, encode_preview
from modules.core.services import current_services
from modules.runtime.jobs import job_queue
from modules.runtime.progress import get_pending_tasks


def _queue() -> Any:
    return job_queue()


def _opt(key: str, default: Any) -> Any:
    opts = current_services().opts
    return getattr(opts, key, default) if opts is not None else default


def _state_of(job: Any) -> Any:
    """The state describing ``job`` (the process's when ``job`` is None or shares it)."""
    return _queue().state_of(job)


def state_snapshot(state: Any = None) -> dict[str, Any]:
    """``state`` (default: the running job's; A1111's ``shared.state.dict()``), or the idle state before the
    bootstrap ran."""
    if state is None:
        state = _state_of(_queue().current())
    if state is None:
        return {"skipped": False, "interrupted": False, "stopping_generation": False, "job": "", "job_count": 0,
                "job_timestamp": "0", "job_no": 0, "sampling_step": 0, "sampling_steps": 0}
    return state.dict()


def _fraction(snapshot: dict[str, Any]) -> float:
    job_count, job_no = snapshot["job_count"], snapshot["job_no"]
    steps, step = snapshot["sampling_steps"], snapshot["sampling_step"]
    progress = 0.0
    if job_count > 0:
        progress += job_no / job_count
        if steps > 0:
            progress += 1 / job_count * step / steps
    return min(progress, 1.0)


def running_progress(job: Any) -> tuple[float, float | None, dict[str, Any]]:
    """(progress, ETA in seconds, state snapshot) of a running job."""
    snapshot = state_snapshot(_state_of(job))
    progress = _fraction(snapshot)
    elapsed = time.time() - (job.started or time.time())
    eta = elapsed / progress - elapsed if progress > 0 else None
    return progress, eta, snapshot


def preview_data_uri(job: Any, last_id: int) -> tuple[str | None, int]:
    """(data URI, id) of ``job``'s live preview when newer than ``last_id``; (None, last_id) otherwise."""
    if not _opt("live_previews_enable", True):
        return None, last_id
    _queue().refresh_preview(job)
    image, preview_id = job.preview, job.preview_id
    if image is None or preview_id == last_id:
        return None, last_id
    return encode_preview(image, str(_opt("live_previews_image_format", "png"))), preview_id


class ProgressQuery:
    """Query of ``GET /sdapi/v1/progress``."""

    def __init__(self, skip_current_image: bool = Query(False, title="Skip current image",
                                                         description="Skip current image serialization")) -> None:
        self.skip_current_image = skip_current_image


def progressapi(req: ProgressQuery = Depends()) -> Any:
    """A1111's progress of the running job: ``0.01 + job_no/job_count + step fraction``, ETA from the elapsed time.
    When several jobs run at once (``--ray``), the one that started first."""
    job = _queue().current()
    state = _state_of(job)
    snapshot = state_snapshot(state)
    textinfo = getattr(state, "textinfo", None)
    if snapshot["job_count"] == 0 or state is None:
        return models.ProgressResponse(progress=0, eta_relative=0, state=snapshot, textinfo=textinfo)
    progress = 0.01
    if snapshot["job_count"] > 0:
        progress += snapshot["job_no"] / snapshot["job_count"]
        if snapshot["sampling_steps"] > 0:
            progress += 1 / snapshot["job_count"] * snapshot["sampling_step"] / snapshot["sampling_steps"]
    elapsed = time.time() - (state.time_start or time.time())
    eta_relative = elapsed / progress - elapsed
    current_image = None
    if job is not None and _opt("live_previews_enable", True):
        _queue().refresh_preview(job)
    image = getattr(state, "current_image", None)
    if image is not None and not req.skip_current_image:
        current_image = encode_pil_to_base64(image)
    return models.ProgressResponse(progress=min(progress, 1), eta_relative=eta_relative, state=snapshot,
                                   current_image=current_image, textinfo=textinfo)


def interruptapi() -> Any:
    """Stop the running job (the next one starts normally); every running job when several run at once."""
    for state in _queue().running_states():
        state.interrupt()
    return {}


def skipapi() -> Any:
    """End the running job's current batch (of every running job when several run at once)."""
    for state in _queue().running_states():
        state.skip()
    return None


def internal_progress(req: models.InternalProgressRequest) -> Any:
    """``POST /internal/progress``: one task's progress and its own live preview."""
    queue = _queue()
    job = queue.get(req.id_task)
    active = job is not None and job.status == "running"
    queued = job is not None and job.status == "queued"
    completed = job is not None and job.status in ("done", "failed", "cancelled")
    if not active:
        textinfo = "Waiting..."
        if queued:
            pending = queue.pending()
            if job in pending:
                textinfo = f"In queue: {pending.index(job) + 1}/{len(pending)}"
        return models.InternalProgressResponse(active=active, queued=queued, completed=completed,
                                               id_live_preview=-1, textinfo=textinfo)
    progress, eta, _snapshot = running_progress(job)
    live_preview, preview_id = None, req.id_live_preview
    if req.live_preview:
        live_preview, preview_id = preview_data_uri(job, req.id_live_preview)
    return models.InternalProgressResponse(active=True, queued=False, completed=False, progress=progress, eta=eta,
                                           live_preview=live_preview, id_live_preview=preview_id,
                                           textinfo=getattr(_state_of(job), "textinfo", None))


def pending_tasks() -> Any:
    """``GET /internal/pending-tasks``: ids of the queued tasks, in the order they will run."""
    return get_pending_tasks()


def register(api: Any) -> None:
    """Add the progress routes to ``api`` (the :class:`modules.api.api.Api`)."""
    api.add_api_route("/sdapi/v1/progress", progressapi, methods=["GET"], response_model=models.ProgressResponse)
    api.add_api_route("/sdapi/v1/interrupt", interruptapi, methods=["POST"])
    api.add_api_route("/sdapi/v1/skip", skipapi, methods=["POST"])
    api.add_api_route("/internal/progress", internal_progress, methods=["POST"],
                      response_model=models.InternalProgressResponse)
    api.add_api_route("/internal/pending-tasks", pending_tasks, methods=["GET"],
                      response_model=models.PendingTasksResponse)
