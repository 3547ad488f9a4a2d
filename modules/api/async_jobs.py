"""How asynchronous txt2img/img2img jobs are stored and rebuilt, so that they survive a restart.

The routes (:mod:`modules.api.routes_generation`) register one :class:`GenerationJobKind` per
tab with the job queue.  A stored job is rebuilt from its request body exactly as the route
builds it (:func:`modules.api.generation.prepare`), so a request that is no longer valid (a
checkpoint gone, say) fails that job with the same 4xx the route would answer.  A finished
job's answer is stored as its pictures (PNG, with their text chunks: the infotext) and the rest
of ``{images, parameters, info}`` as JSON; after a restart the result route answers the same.
"""
from __future__ import annotations

import base64
import io
from typing import Any, Callable

from PIL import Image, PngImagePlugin
from pydantic import ValidationError

from modules.api import models
from modules.api.errors import ApiError, client_error, error_body
from modules.api.generation import prepare
from modules.api.images import encode_pil_to_base64
from modules.core.services import current_services
from modules.runtime.job_kinds import JobKind, StoredJobError
from modules.runtime.job_store import StoredResult
from modules.runtime.jobs import job_queue

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class GenerationJobKind(JobKind):
    """Stored txt2img or img2img jobs."""

    def __init__(self, tabname: str) -> None:
        self.tabname = tabname

    def rebuild(self, task_id: str, request: dict[str, Any]) -> tuple[Callable[[], Any], Any]:
        model = (models.StableDiffusionImg2ImgProcessingAPI if self.tabname == "img2img"
                 else models.StableDiffusionTxt2ImgProcessingAPI)
        try:
            parsed = model.model_validate({**request, "force_task_id": task_id})
        except ValidationError as e:
            raise ApiError(422, f"the stored request is no longer valid: {e}") from e
        prepared = prepare(parsed, self.tabname)
        return prepared.run, prepared

    def result_to_store(self, job: Any) -> StoredResult | None:
        prepared, processed = job.meta, job.result
        if processed is None or not hasattr(prepared, "answer"):
            return None
        answer = prepared.answer(processed)  # kept on the prepared request: the result route answers it as is
        pictures = [_as_png(encoded, image) for encoded, image in zip(answer["images"], processed.images)]
        job.result = None  # the encoded answer is kept instead (as the result route does)
        return StoredResult(pictures, {key: value for key, value in answer.items() if key != "images"})

    def answer_from_store(self, stored: StoredResult) -> Any:
        return {"images": [_encode(png) for png in stored.images], **stored.fields}

    def restore_error(self, error: StoredJobError) -> BaseException:
        # a client's mistake answers as it did before the restart; our own failures stay what they were
        if 400 <= error.status_code < 500:
            return ApiError(error.status_code, error.detail, key=error.key)
        return error

    def describe_error(self, error: BaseException) -> dict[str, Any]:
        known = client_error(error)
        body = error_body(known or error)
        return {"status_code": known.status_code if known is not None else 500, "error": body["error"],
                "detail": str(body["detail"]), "key": body.get("key")}


def _as_png(encoded: str, image: Any) -> bytes:
    """The stored picture: the answer's own bytes when they are a PNG (setting ``samples_format``), else a PNG
    of the picture with its text chunks (the infotext among them)."""
    data = base64.b64decode(encoded)
    if data.startswith(PNG_SIGNATURE):
        return data
    info = PngImagePlugin.PngInfo()
    for key, value in image.info.items():
        if isinstance(key, str) and isinstance(value, str):
            info.add_text(key, value)
    with io.BytesIO() as output:
        image.save(output, format="PNG", pnginfo=info)
        return output.getvalue()


def _encode(png: bytes) -> str:
    """A stored picture as the answer carries it: in setting ``samples_format`` (a PNG is sent as stored)."""
    opts = current_services().opts
    fmt = str(getattr(opts, "samples_format", "png") or "png").lower() if opts is not None else "png"
    if fmt == "png":
        return base64.b64encode(png).decode("ascii")
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return encode_pil_to_base64(image)


def register_job_kinds() -> None:
    """Tell the job queue how stored txt2img and img2img jobs are rebuilt (queued ones from the last run resume)."""
    job_queue().register_kinds({"txt2img": GenerationJobKind("txt2img"), "img2img": GenerationJobKind("img2img")})
