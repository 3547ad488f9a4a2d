"""``POST /sdapi/v1/txt2img`` and ``/img2img`` (A1111's), and the asynchronous job API beside them (ours).

Both kinds go through the one job queue.  The synchronous routes wait for their job without
holding a server thread (so progress requests keep being answered however many clients wait);
the asynchronous ones answer ``{task_id}`` at once::

    POST   /sdapi/v1/async/txt2img            same body as /sdapi/v1/txt2img   -> 202 {task_id, status, queue_position}
    POST   /sdapi/v1/async/img2img            same body as /sdapi/v1/img2img   -> 202 {task_id, status, queue_position}
    GET    /sdapi/v1/async/jobs/{task_id}     status, queue position, progress, ETA, this job's live preview
    GET    /sdapi/v1/async/jobs/{task_id}/result   the synchronous route's answer once done (409 before)
    POST   /sdapi/v1/async/jobs/{task_id}/cancel   cancel if queued, interrupt if running (only this job)
    DELETE /sdapi/v1/async/jobs/{task_id}     cancel, or forget a finished job and its result
"""
from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from modules.api import models
from modules.api.async_jobs import register_job_kinds
from modules.api.errors import ApiError, client_error, error_body, status_of
from modules.api.generation import prepare
from modules.api.routes_progress import preview_data_uri, running_progress
from modules.distributed import current_orchestrator
from modules.runtime.jobs import QueueFullError, job_queue


async def wait_for(job: Any) -> Any:
    """Wait for ``job`` without blocking a thread; its result, or its exception raised."""
    loop = asyncio.get_running_loop()
    finished = loop.create_future()

    def wake(_job: Any) -> None:
        try:
            loop.call_soon_threadsafe(lambda: finished.done() or finished.set_result(None))
        except RuntimeError:  # the loop is gone (client went away): nobody waits
            pass

    job.add_done_callback(wake)
    try:
        await finished
    except asyncio.CancelledError:
        # the client went away: nobody will take the result, so do not keep it in the job's record
        job.add_done_callback(lambda j: setattr(j, "result", None))
        raise
    return job.take_result()


def _as_client_error(e: BaseException) -> BaseException:
    return client_error(e) or e


async def _prepare(request: Any, tabname: str) -> Any:
    try:
        return await run_in_threadpool(prepare, request, tabname)
    except Exception as e:
        raise _as_client_error(e) from e


def _submit(prepared: Any, keep_result: bool, request: dict | None = None) -> Any:
    try:
        # an async job keeps what builds its answer; a waiting request holds it itself
        return job_queue().submit(prepared.run, task_id=prepared.task_id, name=prepared.job_name,
                                  kind=prepared.tabname, keep_result=keep_result,
                                  meta=prepared if keep_result else None, request=request)
    except QueueFullError as e:
        raise ApiError(503, str(e), headers={"Retry-After": "30"}) from e
    except Exception as e:
        raise _as_client_error(e) from e


async def _generate(request: Any, tabname: str) -> JSONResponse:
    prepared = await _prepare(request, tabname)
    job = _submit(prepared, keep_result=False)
    try:
        processed = await wait_for(job)
    except Exception as e:
        raise _as_client_error(e) from e
    return JSONResponse(await run_in_threadpool(prepared.answer, processed))


async def text2imgapi(txt2imgreq: models.StableDiffusionTxt2ImgProcessingAPI) -> Any:
    """Make pictures from a prompt; waits for the job."""
    return await _generate(txt2imgreq, "txt2img")


async def img2imgapi(img2imgreq: models.StableDiffusionImg2ImgProcessingAPI) -> Any:
    """Make pictures from pictures; waits for the job."""
    return await _generate(img2imgreq, "img2img")


# --- the asynchronous job API ---------------------------------------------------------------------------------

def _accepted(job: Any) -> JSONResponse:
    body = {"task_id": job.task_id, "status": job.status, "queue_position": job_queue().position(job)}
    return JSONResponse(status_code=202, content=body)


async def _submit_async(request: Any, tabname: str) -> JSONResponse:
    # the body as sent is stored (prepare fills the request in place from its infotext), so a restart can rebuild it
    body = request.model_dump(mode="json", exclude_unset=True)
    prepared = await _prepare(request, tabname)
    return _accepted(await run_in_threadpool(_submit, prepared, True, body))


async def async_text2imgapi(txt2imgreq: models.StableDiffusionTxt2ImgProcessingAPI) -> Any:
    """Queue a txt2img job and answer its task id at once (it survives a restart)."""
    return await _submit_async(txt2imgreq, "txt2img")


async def async_img2imgapi(img2imgreq: models.StableDiffusionImg2ImgProcessingAPI) -> Any:
    """Queue an img2img job and answer its task id at once (it survives a restart)."""
    return await _submit_async(img2imgreq, "img2img")


def _job(task_id: str) -> Any:
    job = job_queue().get(task_id)
    if job is None:
        raise ApiError(404, f"Task not found: {task_id}", key="task_id")
    return job


def job_info(task_id: str, live_preview: bool = Query(True, description="include this job's latest live preview"),
             id_live_preview: int = Query(-1, description="the id_live_preview of the last preview received")) -> Any:
    """State, queue position, progress and live preview of one job (never another job's)."""
    queue = job_queue()
    job = _job(task_id)
    info: dict[str, Any] = {
        "task_id": job.task_id, "kind": job.kind, "status": job.status, "queue_position": queue.position(job),
        "progress": job.progress, "eta_relative": None, "sampling_step": None, "sampling_steps": None,
        "job_no": None, "job_count": None, "created": job.created, "started": job.started, "finished": job.finished,
        "result_available": job.result is not None or _cached(job) is not None, "error": None,
        "live_preview": None, "id_live_preview": job.preview_id if job.preview is not None else -1,
    }
    if job.status == "running":
        progress, eta, snapshot = running_progress(job)
        info.update(progress=progress, eta_relative=eta, sampling_step=snapshot["sampling_step"],
                    sampling_steps=snapshot["sampling_steps"], job_no=snapshot["job_no"],
                    job_count=snapshot["job_count"])
        orchestrator = current_orchestrator()
        if orchestrator is not None:
            info["workers"] = orchestrator.task_workers(job.task_id)
        if live_preview:
            uri, preview_id = preview_data_uri(job, id_live_preview)
            info.update(live_preview=uri, id_live_preview=preview_id)
    if job.error is not None:
        body = error_body(client_error(job.error) or job.error)
        info["error"] = {"status_code": status_of(job.error), "error": body["error"], "detail": str(body["detail"])}
    return JSONResponse(info)


def _cached(job: Any) -> dict | None:
    return getattr(job.meta, "cached_answer", None)


def job_result(task_id: str) -> Any:
    """The synchronous route's answer for a finished job."""
    job = _job(task_id)
    if job.status in ("queued", "running"):
        raise ApiError(409, f"Task {task_id} is {job.status}; its result is not ready", key="task_id")
    if job.error is not None:
        known = client_error(job.error)
        status = known.status_code if known is not None else 500
        return JSONResponse(status_code=status, content=error_body(known or job.error))
    answer = _cached(job)
    if answer is None:
        if job.result is None or job.meta is None:
            reason = "was cancelled before it started" if job.status == "cancelled" else "is no longer kept"
            raise ApiError(410, f"Task {task_id} {reason}", key="task_id")
        answer = job.meta.answer(job.result)
        job.result = None  # the encoded answer is kept instead
    return JSONResponse(answer)


def job_cancel(task_id: str) -> Any:
    """Cancel a queued job or interrupt a running one; other jobs go on."""
    job = job_queue().cancel(task_id)
    if job is None:
        raise ApiError(404, f"Task not found: {task_id}", key="task_id")
    status = "cancelling" if job.status == "running" else job.status
    return {"task_id": task_id, "status": status}


def job_delete(task_id: str) -> Any:
    """Cancel an unfinished job, or forget a finished one (and its result)."""
    queue = job_queue()
    job = _job(task_id)
    if job.status in ("queued", "running"):
        return job_cancel(task_id)
    queue.forget(task_id)
    return {"task_id": task_id, "status": "deleted"}


def register(api: Any) -> None:
    """Add the generation routes to ``api`` (the :class:`modules.api.api.Api`); stored async jobs can resume."""
    api.add_api_route("/sdapi/v1/txt2img", text2imgapi, methods=["POST"], response_model=models.TextToImageResponse)
    api.add_api_route("/sdapi/v1/img2img", img2imgapi, methods=["POST"], response_model=models.ImageToImageResponse)
    tag = ["async jobs"]
    api.add_api_route("/sdapi/v1/async/txt2img", async_text2imgapi, methods=["POST"], status_code=202,
                      response_model=models.AsyncJobAccepted, tags=tag)
    api.add_api_route("/sdapi/v1/async/img2img", async_img2imgapi, methods=["POST"], status_code=202,
                      response_model=models.AsyncJobAccepted, tags=tag)
    api.add_api_route("/sdapi/v1/async/jobs/{task_id}", job_info, methods=["GET"], response_model=models.AsyncJobInfo,
                      tags=tag)
    api.add_api_route("/sdapi/v1/async/jobs/{task_id}/result", job_result, methods=["GET"],
                      response_model=models.TextToImageResponse, tags=tag)
    api.add_api_route("/sdapi/v1/async/jobs/{task_id}/cancel", job_cancel, methods=["POST"], tags=tag)
    api.add_api_route("/sdapi/v1/async/jobs/{task_id}", job_delete, methods=["DELETE"], tags=tag)
    register_job_kinds()  # after the routes: stored jobs of the last run resume from here

