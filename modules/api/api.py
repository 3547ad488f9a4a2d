"""The ``/sdapi/v1`` routes (A1111's ``modules.api.api.Api``).

Handlers are thin: they read the live objects of the running web UI
(:func:`modules.core.services.current_services`) and translate them into A1111's answers.  Bad input gets a 4xx naming what was
wrong and changes nothing.  The route groups live beside this file:
``routes_generation`` (txt2img, img2img, the async job API), ``routes_progress``,
``routes_info`` (listings, png-info), ``routes_server`` (model and server actions)
and ``routes_extras`` (the Extras tab's routes).
"""
from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Body, FastAPI
from fastapi.responses import JSONResponse

from modules.api import (errors, middleware, models, routes_extras, routes_generation, routes_info, routes_progress,
                         routes_server, routes_workers)
from modules.core.options.store import OptionFrozenError, OptionValueError
from modules.core.services import current_services
from modules.postprocess.model_upscalers import realesrgan_models_api_list
from modules.postprocess.upscaler_registry import LATENT_UPSCALE_MODES
from modules.runtime.queue_lock import queue_lock as process_queue_lock


def _error(status: int, detail: str, key: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": "HTTPException", "detail": detail, "body": "", "errors": f"{status}: {detail}"}
    if key is not None:
        body["key"] = key
    return JSONResponse(status_code=status, content=body)


class Api:
    """Registers the API routes on ``app`` (A1111's constructor signature: ``Api(app, queue_lock)``).

    ``stop_server`` (given by :mod:`modules.server.app`, which runs the server) ends serving for
    ``POST /sdapi/v1/server-stop``; without it that route answers 501.
    """

    def __init__(self, app: FastAPI, queue_lock: Any = None, *, stop_server: Callable[[], None] | None = None) -> None:
        self.app = app
        self.queue_lock = queue_lock if queue_lock is not None else process_queue_lock
        self.stop_server = stop_server
        self.router = APIRouter()
        middleware.install(app, current_services().cmd_opts)
        errors.install_exception_handlers(app)
        routes_generation.register(self)
        routes_info.register(self)
        routes_progress.register(self)
        self.add_api_route("/sdapi/v1/options", self.get_config, methods=["GET"], response_model=models.OptionsModel)
        self.add_api_route("/sdapi/v1/options", self.set_config, methods=["POST"])
        self.add_api_route("/sdapi/v1/cmd-flags", self.get_cmd_flags, methods=["GET"], response_model=models.FlagsModel)
        self.add_api_route("/sdapi/v1/upscalers", self.get_upscalers, methods=["GET"], response_model=list[models.UpscalerItem])
        self.add_api_route("/sdapi/v1/latent-upscale-modes", self.get_latent_upscale_modes, methods=["GET"],
                           response_model=list[models.LatentUpscalerModeItem])
        self.add_api_route("/sdapi/v1/sd-models", self.get_sd_models, methods=["GET"], response_model=list[models.SDModelItem])
        self.add_api_route("/sdapi/v1/sd-vae", self.get_sd_vaes, methods=["GET"], response_model=list[models.SDVaeItem])
        self.add_api_route("/sdapi/v1/face-restorers", self.get_face_restorers, methods=["GET"],
                           response_model=list[models.FaceRestorerItem])
        self.add_api_route("/sdapi/v1/realesrgan-models", self.get_realesrgan_models, methods=["GET"],
                           response_model=list[models.RealesrganItem])
        self.add_api_route("/sdapi/v1/refresh-checkpoints", self.refresh_checkpoints, methods=["POST"])
        self.add_api_route("/sdapi/v1/refresh-vae", self.refresh_vae, methods=["POST"])
        routes_server.register(self)
        routes_extras.register(self)
        routes_workers.register(self)

    def add_api_route(self, path: str, endpoint: Callable, **kwargs: Any) -> None:
        """Add a route to the app (extensions call this too); ``--api-auth`` covers it like every route."""
        self.app.add_api_route(path, endpoint, **kwargs)

    # --- options ---
    def get_config(self) -> dict[str, Any]:
        return current_services().opts.as_dict()

    def set_config(self, req: dict[str, Any] = Body(...)) -> Any:
        """Check every value, then apply and save them together: a refusal (422 bad value, 403 frozen
        setting) or a failed save changes nothing in memory or in ``config.json``."""
        opts = current_services().opts
        try:
            if not opts.set_many(req, is_api=True, save=True):
                opts.save()  # A1111 writes the file on every POST
        except OptionValueError as e:
            return _error(422, str(e), e.key)
        except OptionFrozenError as e:
            return _error(403, str(e), e.key)
        except OSError as e:
            return _error(500, f"config.json could not be written ({e}); nothing was changed")
        return None

    def get_cmd_flags(self) -> dict[str, Any]:
        return vars(current_services().cmd_opts)

    # --- listings ---
    def get_sd_models(self) -> list[dict]:
        return current_services().checkpoints.as_api_list()

    def get_sd_vaes(self) -> list[dict]:
        return current_services().vae_files.as_api_list()

    def get_upscalers(self) -> list[dict]:
        return current_services().upscalers.as_api_list()

    def get_latent_upscale_modes(self) -> list[dict]:
        return [{"name": name} for name in LATENT_UPSCALE_MODES]

    def get_realesrgan_models(self) -> list[dict]:
        return realesrgan_models_api_list()

    def get_face_restorers(self) -> list[dict]:
        return current_services().face_restorers.as_api_list()

    # --- refresh (after the running job, as A1111) ---
    def refresh_checkpoints(self) -> None:
        with self.queue_lock:
            current_services().checkpoints.refresh()

    def refresh_vae(self) -> None:
        with self.queue_lock:
            current_services().vae_files.refresh()
