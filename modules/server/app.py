"""Builds the HTTP application (UI and/or API) from the flags and serves it with uvicorn (the top layer).

``--nowebui`` serves the API alone (default port 7861); otherwise the gradio UI
is mounted at ``/`` (or ``--subpath``; default port 7860) and the API beside it
with ``--api``.  One set of guards (:mod:`modules.api.middleware`) sits in front
of both: the login rule of :mod:`modules.api.access` (``--api-auth``,
``--gradio-auth``, ``--gradio-auth-path``: any of them, for every route) and the
cross-site checks of :mod:`modules.api.origin`.  There is no permissive CORS:
gradio's own CORS middleware is taken out, only ``--cors-allow-origins`` /
``-regex`` add any.
"""
from __future__ import annotations

import argparse
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware

from modules.api import middleware
from modules.api.api import Api
from modules.api.origin import listening_port
from modules.core.services import current_services
from modules.scripting import callbacks
from modules.server import internal_routes


def server_host(cmd_opts: argparse.Namespace) -> str:
    """``--server-name`` wins, then ``--listen`` (0.0.0.0), else loopback only."""
    if cmd_opts.server_name:
        return cmd_opts.server_name
    return "0.0.0.0" if cmd_opts.listen else "127.0.0.1"


def server_port(cmd_opts: argparse.Namespace) -> int:
    """``--port``, else 7861 for the API alone and 7860 with the UI."""
    return listening_port(cmd_opts)


def add_cors(app: FastAPI, cmd_opts: argparse.Namespace) -> None:
    """CORS only for the origins the flags name (A1111's setup_middleware)."""
    origins = [o.strip() for o in (cmd_opts.cors_allow_origins or "").split(",") if o.strip()]
    regex = cmd_opts.cors_allow_origins_regex
    if origins or regex:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_origin_regex=regex,
                           allow_methods=["*"], allow_credentials=True, allow_headers=["*"])


def create_app(cmd_opts: argparse.Namespace, with_ui: bool) -> FastAPI:
    """The FastAPI app with A1111's middleware, the API routes (``--api`` or ``--nowebui``) and the UI."""
    callbacks.before_ui_callback()
    app = FastAPI(title="Stable Diffusion web UI", docs_url="/docs", redoc_url="/redoc")
    # inside CORS (preflights are answered before authentication), outside everything else
    middleware.install(app, cmd_opts)
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    add_cors(app, cmd_opts)
    if cmd_opts.api or cmd_opts.nowebui:
        Api(app, stop_server=request_stop)
    if with_ui:
        app = _mount_ui(app, cmd_opts)
    demo = current_services().demo if with_ui else None
    callbacks.app_started_callback(demo, app)
    if with_ui:
        internal_routes.add_internal_routes(demo, app)
    _ui_mount_last(app)
    return app


def _ui_mount_last(app: FastAPI) -> None:
    """Move the UI's mount behind every other route: mounted at ``/`` it would hide routes added after it
    (extensions add theirs in ``app_started`` callbacks)."""
    ui = [r for r in app.router.routes if getattr(r, "webui_ui", False)]
    if ui:
        app.router.routes[:] = [r for r in app.router.routes if not getattr(r, "webui_ui", False)] + ui


def _mount_ui(app: FastAPI, cmd_opts: argparse.Namespace) -> FastAPI:
    """Build the page and mount it; its login page checks the same passwords as every other route."""
    import gradio as gr

    # gradio on first use: the API alone starts without it
    from modules.ui.frame import create_ui
    from modules.ui.theme import gradio_theme, theme_head  # gradio on first use, as above

    services = current_services()
    services.demo = create_ui()
    access = app.state.webui_access
    prefix = (cmd_opts.subpath or "").rstrip("/")
    known = set(map(id, app.router.routes))
    app = gr.mount_gradio_app(app, services.demo, path=prefix or "/",
                              auth=access.check_password if access.enabled else None,
                              theme=gradio_theme(), head=theme_head())
    ui_app = None
    for route in app.router.routes:
        if id(route) not in known:
            route.webui_ui = True  # type: ignore[attr-defined]  (kept behind the routes added later)
            ui_app = getattr(route, "app", ui_app)
    _strip_gradio_cors(ui_app)
    _keep_sessions(ui_app, access)
    access.attach_ui(ui_app, prefix)
    app.state.webui_ui_mounted = True
    return app


def _strip_gradio_cors(ui_app: Any) -> None:
    """Take gradio's CORS middleware out of its app: for a page served under a name other than localhost it
    grants any origin, with credentials (CORS comes only from ``--cors-allow-origins`` here, as in A1111)."""
    from gradio.route_utils import CustomCORSMiddleware

    ui_app.user_middleware[:] = [m for m in ui_app.user_middleware if m.cls is not CustomCORSMiddleware]


_sessions: dict[tuple, tuple[str, dict]] = {}
"""The login page's cookie name and sessions, per set of logins: a Reload UI builds a new gradio app, and the
people logged in stay logged in (the page's reload would otherwise wait on 401s)."""


def _keep_sessions(ui_app: Any, access: Any) -> None:
    key = tuple(access.credentials)
    if key in _sessions:
        ui_app.cookie_id, ui_app.tokens = _sessions[key]
    else:
        _sessions.clear()
        _sessions[key] = (ui_app.cookie_id, ui_app.tokens)


_server: Any = None
"""The running uvicorn server (for ``POST /sdapi/v1/server-stop``)."""


_reload_requested = False


def request_stop() -> None:
    """Stop serving after the requests in progress (``--api-server-stop``'s ``server-stop``)."""
    if _server is not None:
        _server.should_exit = True


def request_reload() -> None:
    """Stop serving so that ``webui.py`` builds the app again and serves it on the same port (Reload UI)."""
    global _reload_requested
    _reload_requested = True
    request_stop()


def reload_requested() -> bool:
    """Whether the server stopped for a Reload UI (and clear the request)."""
    global _reload_requested
    requested, _reload_requested = _reload_requested, False
    return requested


def serve(app: Any, cmd_opts: argparse.Namespace, on_ready: Any = None) -> None:
    """Run uvicorn until the process is stopped."""
    import uvicorn

    config = uvicorn.Config(app, host=server_host(cmd_opts), port=server_port(cmd_opts),
                            timeout_keep_alive=cmd_opts.timeout_keep_alive, log_level="warning",
                            # open event streams of the page must not hold up a Reload UI
                            timeout_graceful_shutdown=3,
                            ssl_keyfile=cmd_opts.tls_keyfile, ssl_certfile=cmd_opts.tls_certfile)
    server = uvicorn.Server(config)
    global _server
    _server = server
    if on_ready is not None:
        original_startup = server.startup

        async def startup(sockets: Any = None) -> None:
            await original_startup(sockets=sockets)
            on_ready()

        server.startup = startup  # type: ignore[method-assign]
    server.run()
