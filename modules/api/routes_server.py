"""Model and server actions: refresh-embeddings, unload/reload-checkpoint, create/train, server-kill/restart/stop.

The model actions wait for the job queue (a running job keeps its model); the server routes
exist only with ``--api-server-stop``.
"""
from __future__ import annotations

import inspect
import os
import threading
from typing import Any, Callable

from fastapi import Body
from fastapi.responses import Response

from modules.api import models
from modules.api.errors import ApiError
from modules.core.file_naming import CreationError
from modules.core.services import current_services
from modules.runtime import restart
from modules.runtime.jobs import run_job
from modules.runtime.progress import create_task_id

exit_process: Callable[[int], Any] = os._exit
"""How the process ends (tests replace it)."""

EXIT_DELAY = 0.2
"""Seconds left for the answer to reach the client before the process ends."""


def _locked(api: Any, fn: Callable[[], Any]) -> Any:
    with api.queue_lock:
        return fn()


def make_refresh_embeddings(api: Any) -> Callable[[], Any]:
    def refresh_embeddings() -> None:
        db = current_services().embeddings
        if db is not None:
            _locked(api, lambda: db.load_textual_inversion_embeddings(force_reload=True))
    return refresh_embeddings


def make_unload(api: Any) -> Callable[[], Any]:
    def unloadapi() -> dict:
        """Move the loaded checkpoint to RAM (after the running job)."""
        manager = current_services().model_manager
        if manager is not None:
            _locked(api, manager.unload)
        return {}
    return unloadapi


def make_reload(api: Any) -> Callable[[], Any]:
    def reloadapi() -> dict:
        """Move the loaded checkpoint back to its device."""
        manager = current_services().model_manager
        if manager is not None:
            _locked(api, manager.reload)
        return {}
    return reloadapi


def _call_kwargs(function: Callable[..., Any] | None, what: str, args: dict[str, Any]) -> Any:
    if function is None:
        raise ApiError(404, f"{what} is not available in this build")
    try:
        return function(**args)
    except TypeError as e:
        raise ApiError(422, f"{what}: {e}") from e


def _create(what: str, kind: str, function: Callable[..., str], args: dict[str, Any]) -> Any:
    """Run a Create route as A1111 answers it: 200 with ``create <kind> filename: ...`` or ``... error: ...``."""
    state = current_services().state
    state.begin(job=f"create_{kind}")
    try:
        filename = _call_kwargs(function, what, args)
    except CreationError as e:
        return models.CreateResponse(info=f"create {kind} error: {e}")
    finally:
        state.end()
    return models.CreateResponse(info=f"create {kind} filename: {filename}")


def make_create_embedding(api: Any) -> Callable[..., Any]:
    def create_embedding(args: dict = Body(...)) -> Any:
        # torch on first use: the API starts without it
        from modules.prompting.textual_inversion.creation import create_embedding_and_reload

        return _locked(api, lambda: _create("Creating embeddings", "embedding", create_embedding_and_reload, args))

    return create_embedding


def make_create_hypernetwork(api: Any) -> Callable[..., Any]:
    def create_hypernetwork(args: dict = Body(...)) -> Any:
        # torch on first use: the API starts without it
        from modules.networks.hypernetworks.creation import create_hypernetwork as create

        return _locked(api, lambda: _create("Creating hypernetworks", "hypernetwork", create, args))

    return create_hypernetwork


def _train(kind: str, function_name: str, args: dict[str, Any]) -> Any:
    """Run a training as a job of the one queue and answer as A1111: ``train <kind> complete: filename: ...
    error: ...`` (a training that failed or was refused names the reason; unknown arguments are a 422)."""
    # torch on first use: the API starts without it
    from modules.training import hypernetwork, textual_inversion
    from modules.training.validation import TrainingError

    function = getattr({"embedding": textual_inversion, "hypernetwork": hypernetwork}[kind], function_name)
    try:
        inspect.signature(function).bind(**args)
    except TypeError as e:
        raise ApiError(422, f"train/{kind}: {e}") from e
    args = {k: v for k, v in args.items() if k not in ("id_task", "services")}
    task_id = create_task_id(f"train_{kind}")
    filename, error = "", None
    try:
        _, filename = run_job(task_id, lambda: function(id_task=task_id, **args), name=f"train_{kind}", kind="train")
    except (TrainingError, OSError, ValueError, RuntimeError) as e:
        error = e
    return models.TrainResponse(info=f"train {kind} complete: filename: {filename} error: {error}")


def train_embedding(args: dict = Body(...)) -> Any:
    """Train an embedding (body: the keyword arguments of A1111's ``train_embedding``); blocks until it ends."""
    return _train("embedding", "train_embedding", args)


def train_hypernetwork(args: dict = Body(...)) -> Any:
    """Train a hypernetwork (body: the keyword arguments of A1111's ``train_hypernetwork``); blocks until it ends."""
    return _train("hypernetwork", "train_hypernetwork", args)


def _exit_soon(code: int = 0) -> None:
    timer = threading.Timer(EXIT_DELAY, exit_process, args=(code,))
    timer.daemon = True
    timer.start()


def kill_webui() -> Response:
    """End the process at once (``--api-server-stop``)."""
    _exit_soon(0)
    return Response(status_code=200)


def restart_webui() -> Response:
    """Exit so that ``webui.sh`` starts the web UI again; 501 when not started by it."""
    if not restart.is_restartable():
        return Response(status_code=501)
    restart.mark_restart()
    _exit_soon(0)
    return Response(status_code=200)


def make_stop(api: Any) -> Callable[[], Any]:
    """``server-stop``: 501 when no server runs this API (an :class:`~modules.api.api.Api` built without one)."""
    def stop_webui() -> Response:
        """Stop serving gracefully (the running job finishes first)."""
        if getattr(api, "stop_server", None) is None:
            return Response(status_code=501)
        api.stop_server()
        return Response("Stopping.")
    return stop_webui


def register(api: Any) -> None:
    """Add the model and server routes to ``api`` (the :class:`modules.api.api.Api`)."""
    route = api.add_api_route
    route("/sdapi/v1/refresh-embeddings", make_refresh_embeddings(api), methods=["POST"])
    route("/sdapi/v1/unload-checkpoint", make_unload(api), methods=["POST"])
    route("/sdapi/v1/reload-checkpoint", make_reload(api), methods=["POST"])
    route("/sdapi/v1/create/embedding", make_create_embedding(api), methods=["POST"],
          response_model=models.CreateResponse)
    route("/sdapi/v1/create/hypernetwork", make_create_hypernetwork(api), methods=["POST"],
          response_model=models.CreateResponse)
    route("/sdapi/v1/train/embedding", train_embedding, methods=["POST"], response_model=models.TrainResponse)
    route("/sdapi/v1/train/hypernetwork", train_hypernetwork, methods=["POST"], response_model=models.TrainResponse)
    if getattr(current_services().cmd_opts, "api_server_stop", False):
        route("/sdapi/v1/server-kill", kill_webui, methods=["POST"])
        route("/sdapi/v1/server-restart", restart_webui, methods=["POST"])
        route("/sdapi/v1/server-stop", make_stop(api), methods=["POST"])
