"""Errors of the API: A1111's JSON error body, and which failures are the client's (4xx).

Every error answer is ``{"error": <exception class>, "detail": ..., "body": ..., "errors": <str>}``
(A1111's shape); ours add ``"key"`` when one request field or setting is at fault.  Bad input
is always a 4xx naming what was wrong; only our own faults are 500.
"""
from __future__ import annotations

import sys
import traceback
from typing import Any, Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse, Response
from starlette.middleware import Middleware


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


CLIENT_ERRORS: list[tuple[str, str, int, str | None]] = [
    # (module, exception class, status, the field or setting named when the exception names none)
    ("modules.processing.processing_base", "GenerationError", 422, None),
    ("modules.core.options.errors", "OptionValueError", 422, None),
    ("modules.core.options.errors", "OptionFrozenError", 403, None),
    ("modules.core.options.store", "OptionValueError", 422, None),
    ("modules.core.options.store", "OptionFrozenError", 403, None),
    ("modules.runtime.jobs", "DuplicateTaskError", 409, "force_task_id"),
    ("modules.runtime.jobs", "JobCancelledError", 409, None),
    ("modules.prompting.limits", "PromptLimitError", 422, "prompt"),
    ("modules.sampling.registry", "SamplerNotSupportedError", 422, "sampler_name"),
    ("modules.core.limits", "ImageTooLargeError", 422, None),
    ("modules.core.limits", "ImageDecodeError", 422, None),
    ("modules.models.checkpoint_io", "CheckpointError", 422, None),
    ("modules.models.config_registry", "ConfigError", 422, None),
    ("modules.models.model_files", "ModelFileMissingError", 404, None),
    ("modules.models.checkpoints.registry", "NoCheckpointsError", 404, None),
    ("modules.processing.extras_run", "ExtrasInputError", 422, None),
    ("modules.postprocess.extras_ops", "UnknownUpscalerError", 422, None),
    # a model file that is there but cannot be read, before its base class (a file that is not there)
    ("modules.postprocess.spandrel_loader", "ModelLoadError", 422, None),
    ("modules.postprocess.upscaler", "UpscalerUnavailable", 404, None),
]
"""Exceptions raised on bad input (or a request for a model file that is missing or broken), and their answer.

Looked up in ``sys.modules`` so that this module imports none of them (an exception whose module was
never imported cannot have been raised)."""


def client_error(e: BaseException) -> ApiError | None:
    """The 4xx answer for an exception raised by processing on bad input, or None when it is our fault."""
    if isinstance(e, ApiError):
        return e
    if isinstance(e, HTTPException):
        return ApiError(e.status_code, str(e.detail), headers=getattr(e, "headers", None))
    for module_name, class_name, status, key in CLIENT_ERRORS:
        cls = getattr(sys.modules.get(module_name), class_name, None)
        if isinstance(cls, type) and isinstance(e, cls):
            return ApiError(status, str(e), key=getattr(e, "key", None) or key)
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
    # Starlette hands a handler registered for ``Exception`` to its outermost middleware, which sends the
    # answer and then raises the exception again, so uvicorn closes the keep-alive connection after every
    # 500 (and the client's next request on that connection fails).  The routes' own faults are answered
    # by ErrorAnswerMiddleware instead, innermost, which answers and is done; the handler stays for what
    # the other middleware raises.
    app.add_exception_handler(Exception, exception_handler)
    if app.middleware_stack is None:  # a started app cannot take middleware (then: A1111's behaviour)
        app.user_middleware.append(Middleware(ErrorAnswerMiddleware, handler=exception_handler))


class ErrorAnswerMiddleware:
    """Answers an exception a route raised with ``handler``'s response, and does not raise it again.

    Installed innermost (inside authentication, CORS and ``X-Process-Time``, which then apply to the
    answer as to any other).  An exception after the answer started is passed on: that connection
    cannot be saved.
    """

    def __init__(self, app: Any, handler: Callable[[Request, Exception], Awaitable[Response]]) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as e:
            if started:
                raise
            response = await self.handler(Request(scope, receive), e)
            await response(scope, receive, send)
