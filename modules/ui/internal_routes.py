"""The routes the page itself calls: ``/internal/*`` (progress, pending tasks, ping, quicksettings hint,
start-up profile) and ``/sd_extra_networks/thumb`` (preview pictures of the extra-networks cards).

A1111 serves them whenever the UI is up.  When the app did not add them
(no ``--api``), the UI adds them when the server starts (an ``app_started``
callback); a route already present is left alone.
"""
from __future__ import annotations

from typing import Any


def add_internal_routes(_demo: Any, app: Any) -> None:
    """Add whichever UI routes ``app`` lacks."""
    from modules.api import models
    from modules.api.routes_progress import internal_progress, pending_tasks

    existing = {getattr(route, "path", None) for route in app.router.routes}

    def quicksettings_hint() -> list[dict[str, str]]:
        from modules import shared

        return [{"name": key, "label": info.label} for key, info in shared.opts.data_labels.items()]

    def profile_startup() -> Any:
        from modules import shared

        timer = shared.startup_timer
        return timer.dump() if timer is not None else {}

    routes = [
        ("/internal/progress", internal_progress, ["POST"], models.InternalProgressResponse),
        ("/internal/pending-tasks", pending_tasks, ["GET"], models.PendingTasksResponse),
        ("/internal/ping", lambda: {}, ["GET"], None),
        ("/internal/quicksettings-hint", quicksettings_hint, ["GET"], None),
        ("/internal/profile-startup", profile_startup, ["GET"], None),
        ("/sd_extra_networks/thumb", thumb, ["GET"], None),
    ]
    for path, endpoint, methods, response_model in routes:
        if path not in existing:
            app.add_api_route(path, endpoint, methods=methods, response_model=response_model)


THUMB_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".avif")


def thumb_path(filename: str) -> str | None:
    """``filename`` when it is a picture inside one of the model folders, else None (nothing else is served)."""
    import os

    from modules.ui.extra_network_pages import allowed_preview_dirs

    if not filename or os.path.splitext(filename)[1].lower() not in THUMB_EXTENSIONS:
        return None
    path = os.path.realpath(os.path.abspath(filename))
    for folder in allowed_preview_dirs():
        root = os.path.realpath(folder)
        if os.path.commonpath([root, path]) == root and os.path.isfile(path):
            return path
    return None


def thumb(filename: str = "") -> Any:
    """``GET /sd_extra_networks/thumb?filename=``: a card's preview picture, or 404."""
    from fastapi import HTTPException
    from fastapi.responses import FileResponse

    path = thumb_path(filename)
    if path is None:
        raise HTTPException(status_code=404, detail="File not found")
    return FileResponse(path, headers={"Cache-Control": "max-age=31536000"})


def register() -> None:
    """Ask for :func:`add_internal_routes` at server start (once per callback registry)."""
    from modules import script_callbacks
    from modules.scripting import callback_registry

    callbacks = callback_registry.callback_map.get("callbacks_app_started", [])
    if not any(getattr(c, "callback", None) is add_internal_routes for c in callbacks):
        script_callbacks.on_app_started(add_internal_routes, name="webui_internal_routes")
