"""Errors of the API: A1111's JSON error body, and which failures are the client's (4xx).

Every error answer is ``{"error": <exception class>, "detail": ..., "body": ..., "errors": <str>}``
(A1111's shape); ours add ``"key"`` when one request field or setting is at fault.  Bad input
is always a 4xx naming what was wrong; only our own faults are 500.
"""
from __future__ import annotations

import sys
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse


class ApiError(HTTPException):
    """An answer with ``status`` and a message; ``key`` names the request field or setting at fault."""

    def __init__(self, status: int, detail: str, key: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.key = key


def error_body(e: BaseException) -> dict[str, Any]:
    """A1111's error object for ``e``."""
    detail = getattr(e, "detail", None)
    body: dict[str, Any] = {
        "error": type(e).__name__,
        "detail": detail if detail is not None else str(e),
        "body": getattr(e, "body", "") or "",
        "errors": str(e),
    }
    key = getattr(e, "key", None)
    if key is not None:
        body["key"] = key
    return body


def client_error(e: BaseException) -> ApiError | None:
    """The 4xx answer for an exception raised by processing on bad input, or None when it is our fault."""
    if isinstance(e, ApiError):
        return e
    if isinstance(e, HTTPException):
        return ApiError(e.status_code, str(e.detail), headers=getattr(e, "headers", None))
    processing_base = sys.modules.get("modules.processing.processing_base")
    if processing_base is not None and isinstance(e, processing_base.GenerationError):
        return ApiError(422, str(e))
    store = sys.modules.get("modules.core.options.store")
    if store is not None and isinstance(e, store.OptionValueError):
        return ApiError(422, str(e), key=getattr(e, "key", None))
    if store is not None and isinstance(e, store.OptionFrozenError):
        return ApiError(403, str(e), key=getattr(e, "key", None))
    jobs = sys.modules.get("modules.runtime.jobs")
    if jobs is not None and isinstance(e, jobs.DuplicateTaskError):
        return ApiError(409, str(e), key="force_task_id")
    if jobs is not None and isinstance(e, jobs.JobCancelledError):
        return ApiError(409, str(e))
    return None


def status_of(e: BaseException) -> int:
    """The HTTP status an exception is answered with."""
    known = client_error(e)
    return known.status_code if known is not None else 500


def install_exception_handlers(app: FastAPI) -> None:
    """Answer every error of the app's routes with A1111's body (tracebacks printed for our own faults)."""
    if getattr(app.state, "sdapi_exception_handlers", False):
        return
    app.state.sdapi_exception_handlers = True

    async def http_exception_handler(request: Request, e: Exception) -> JSONResponse:
        known = client_error(e) or ApiError(500, str(e))
        return JSONResponse(status_code=known.status_code, content=error_body(e if isinstance(e, HTTPException) else known),
                            headers=getattr(known, "headers", None))

    async def exception_handler(request: Request, e: Exception) -> JSONResponse:
        known = client_error(e)
        if known is not None:
            return JSONResponse(status_code=known.status_code, content=error_body(known), headers=known.headers)
        print(f"API error: {request.method}: {request.url} {error_body(e)}", file=sys.stderr)
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
        return JSONResponse(status_code=500, content=error_body(e))

    app.add_exception_handler(HTTPException, http_exception_handler)
    app.add_exception_handler(Exception, exception_handler)
