"""The routes the page itself calls: ``/internal/*`` (progress, pending tasks, ping, quicksettings hint,
start-up profile, the system report, the notification sound) and ``/sd_extra_networks/*`` (preview pictures of the extra-networks cards, a card file's
metadata, and the user metadata editor's read and save).

A1111 serves them whenever the UI is up: :func:`modules.server.app.create_app` adds them once the
UI is mounted (after the extensions' ``app_started`` callbacks); a route already present (``--api``
adds the ``/internal`` progress routes) is left alone.

The ``/sd_extra_networks/*`` routes belong to the UI, as in A1111: they are
added inside the mounted gradio app.  Like every route, they answer only with a
login when one is configured, and their writes only to the server's own pages
(:mod:`modules.api.middleware`); the two that read JSON are marked so that a
``text/plain`` body is refused before they run.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

from fastapi import HTTPException
from fastapi.responses import FileResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Mount

from modules.api import models
from modules.api.route_lookup import reads_json
from modules.api.routes_progress import internal_progress, pending_tasks
from modules.core import errors as error_log
from modules.core.sysinfo import collect_sysinfo, sysinfo_filename, sysinfo_text
from modules.core.services import current_services
from modules.ui.assets import notification_sound_file
from modules.ui.extra_network_cards import card_html
from modules.ui.extra_network_pages import (UserMetadataError, allowed_preview_dirs, cover_images, file_metadata,
                                            find_item, replace_preview, save_user_metadata, user_metadata_view)


def add_internal_routes(_demo: Any, app: Any) -> None:
    """Add whichever UI routes ``app`` lacks."""
    existing = {getattr(route, "path", None) for route in app.router.routes}

    def quicksettings_hint() -> list[dict[str, str]]:
        return [{"name": key, "label": info.label} for key, info in current_services().opts.data_labels.items()]

    def profile_startup() -> Any:
        timer = current_services().startup_timer
        return timer.dump() if timer is not None else {}

    routes = [
        ("/internal/progress", internal_progress, ["POST"], models.InternalProgressResponse),
        ("/internal/pending-tasks", pending_tasks, ["GET"], models.PendingTasksResponse),
        ("/internal/ping", lambda: {}, ["GET"], None),
        ("/internal/quicksettings-hint", quicksettings_hint, ["GET"], None),
        ("/internal/profile-startup", profile_startup, ["GET"], None),
        ("/internal/sysinfo", sysinfo_inline, ["GET"], None),
        ("/internal/sysinfo-download", sysinfo_download, ["GET"], None),
        ("/internal/notification-sound", notification_sound, ["GET"], None),
    ]
    for path, endpoint, methods, response_model in routes:
        if path not in existing:
            app.add_api_route(path, endpoint, methods=methods, response_model=response_model)
    ui_app = gradio_app_of(app)
    target = ui_app if ui_app is not None else app
    ui_routes = [
        ("/sd_extra_networks/thumb", thumb, ["GET", "HEAD"]),
        ("/sd_extra_networks/metadata", network_metadata, ["GET"]),
        ("/sd_extra_networks/cover-images", cover_image, ["GET"]),
        ("/sd_extra_networks/get-single-card", single_card, ["GET"]),
        ("/sd_extra_networks/user-metadata", read_user_metadata, ["GET"]),
        ("/sd_extra_networks/user-metadata", write_user_metadata, ["POST"]),
        ("/sd_extra_networks/replace-preview", write_preview, ["POST"]),
    ]
    present = {(getattr(r, "path", None), tuple(sorted(getattr(r, "methods", None) or ())))
               for r in target.router.routes}
    for path, endpoint, methods in ui_routes:
        if (path, tuple(sorted(methods))) not in present:
            target.add_api_route(path, endpoint, methods=methods)


def live_sysinfo() -> str:
    """The system report of the running server (A1111's ``sysinfo.get()``): what ``--dump-sysinfo`` writes, with
    the live settings and the errors reported since start, secrets redacted."""
    services = current_services()
    exceptions = [{"message": e.message, "traceback": e.traceback} for e in error_log.recent]
    return sysinfo_text(collect_sysinfo(sys.argv[1:], services.paths, services.cmd_opts,
                                        config=dict(services.opts.data), exceptions=exceptions))


def _sysinfo_response(attachment: bool) -> PlainTextResponse:
    disposition = "attachment" if attachment else "inline"
    return PlainTextResponse(live_sysinfo(), media_type="application/json",
                             headers={"Content-Disposition": f'{disposition}; filename="{sysinfo_filename()}"'})


def sysinfo_inline() -> PlainTextResponse:
    """``GET /internal/sysinfo``: the system report, shown in the browser (Settings > Sysinfo's second link)."""
    return _sysinfo_response(attachment=False)


def sysinfo_download() -> PlainTextResponse:
    """``GET /internal/sysinfo-download``: the system report as a file to save (Settings > Sysinfo's first link)."""
    return _sysinfo_response(attachment=True)


def notification_sound() -> FileResponse:
    """``GET /internal/notification-sound``: ``notification.mp3`` (data dir, else install dir), played by the page
    when a generation finishes (setting ``notification_audio``); 404 without one."""
    path = notification_sound_file()
    if path is None:
        raise HTTPException(status_code=404, detail="No notification.mp3 in the data dir or the install dir")
    return FileResponse(path, media_type="audio/mpeg")


def gradio_app_of(app: Any) -> Any:
    """The gradio app mounted in ``app`` (the UI), or None without a UI."""
    for route in app.router.routes:
        if isinstance(route, Mount) and getattr(route, "webui_ui", False) and hasattr(route.app, "router"):
            return route.app
    return None


THUMB_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".avif")


def thumb_path(filename: str) -> str | None:
    """``filename`` when it is a picture inside one of the model folders, else None (nothing else is served)."""
    # a NUL byte makes every os.path call raise (a 500): such a name is no file of ours
    if not filename or "\x00" in filename or os.path.splitext(filename)[1].lower() not in THUMB_EXTENSIONS:
        return None
    path = os.path.realpath(os.path.abspath(filename))
    for folder in allowed_preview_dirs():
        root = os.path.realpath(folder)
        if os.path.commonpath([root, path]) == root and os.path.isfile(path):
            return path
    return None


def thumb(filename: str = "") -> Any:
    """``GET /sd_extra_networks/thumb?filename=``: a card's preview picture, or 404."""
    path = thumb_path(filename)
    if path is None:
        raise HTTPException(status_code=404, detail="File not found")
    return FileResponse(path, headers={"Cache-Control": "max-age=31536000"})


def network_metadata(page: str = "", item: str = "") -> Any:
    """``GET /sd_extra_networks/metadata?page=&item=``: the safetensors metadata of a card's file (A1111's ⓘ)."""
    _, found = _listed_card(page, item)
    return {"metadata": json.dumps(file_metadata(found.filename), indent=4, ensure_ascii=False)}


def cover_image(page: str = "", item: str = "", index: int = 0) -> Response:
    """``GET /sd_extra_networks/cover-images?page=&item=&index=``: picture ``index`` of the card file's
    ``ssmd_cover_images`` metadata (base64 pictures a LoRA trainer embedded), or 404."""
    import base64
    import binascii
    import io

    from PIL import Image, UnidentifiedImageError

    _, found = _listed_card(page, item)
    pictures = cover_images(file_metadata(found.filename))
    if not 0 <= index < len(pictures):
        raise HTTPException(status_code=404, detail=f"{item} has no cover image {index}")
    try:
        data = base64.b64decode(pictures[index], validate=False)
        with Image.open(io.BytesIO(data)) as image:
            media_type = image.get_format_mimetype() or "application/octet-stream"
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError) as e:
        raise HTTPException(status_code=404, detail=f"{item}: cover image {index} is not a picture ({e})") from None
    return Response(content=data, media_type=media_type)


def single_card(page: str = "", tabname: str = "", name: str = "") -> Any:
    """``GET /sd_extra_networks/get-single-card?page=&tabname=&name=``: ``{"html": ...}``, one card drawn again
    (after its metadata changed), also when the page's version filter hides it."""
    if tabname not in ("txt2img", "img2img"):
        raise HTTPException(status_code=400, detail="tabname: txt2img or img2img")
    found_page, found = _listed_card(page, name)
    return {"html": card_html(tabname, found_page, found)}


def _listed_card(page: str, item: str) -> Any:
    """``(page, item)`` of a listed card, or a 404 naming what is missing (no path ever comes from a request)."""
    try:
        return find_item(page, item)
    except UserMetadataError as e:
        raise HTTPException(status_code=404, detail=str(e)) from None


async def _json_body(request: Request, hint: str) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise HTTPException(status_code=400, detail=hint) from None


def _bad_request(function: Any, *args: Any) -> Any:
    """``function(*args)``, its :class:`UserMetadataError` answered as a 400 with the reason."""
    try:
        return function(*args)
    except UserMetadataError as e:
        raise HTTPException(status_code=400, detail=str(e)) from None


def read_user_metadata(page: str = "", item: str = "") -> Any:
    """``GET /sd_extra_networks/user-metadata?page=&item=``: what the 🛠 editor shows for a card."""
    return user_metadata_view(*_listed_card(page, item))


@reads_json
async def write_user_metadata(request: Request, page: str = "", item: str = "") -> Any:
    """``POST /sd_extra_networks/user-metadata?page=&item=`` with the fields as JSON: the 🛠 editor's Save."""
    found_page, found = await run_in_threadpool(_listed_card, page, item)
    values = await _json_body(request, "Send the fields as a JSON object")
    return await run_in_threadpool(_bad_request, save_user_metadata, found_page, found, values)


@reads_json
async def write_preview(request: Request, page: str = "", item: str = "") -> Any:
    """``POST /sd_extra_networks/replace-preview?page=&item=`` with ``{"image": <data URL>}``: the editor's
    "Replace preview" (the picture selected in the tab's gallery becomes the card's preview)."""
    _, found = await run_in_threadpool(_listed_card, page, item)
    body = await _json_body(request, 'Send {"image": <data URL>}')
    image = body.get("image") if isinstance(body, dict) else None
    path = await run_in_threadpool(_bad_request, replace_preview, found, image)
    return {"preview": os.path.basename(path)}

