"""Builds the HTTP application (UI and/or API) from the flags and serves it with uvicorn.

``--nowebui`` serves the API alone (default port 7861); otherwise the gradio UI
is mounted at ``/`` (default port 7860) and the API beside it with ``--api``.
There is no permissive CORS: only ``--cors-allow-origins`` / ``-regex``.
"""
from __future__ import annotations

import argparse
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware

from modules.core.cmd_args import DEFAULT_PORT_API_ONLY, DEFAULT_PORT_UI


def server_host(cmd_opts: argparse.Namespace) -> str:
    """``--server-name`` wins, then ``--listen`` (0.0.0.0), else loopback only."""
    if cmd_opts.server_name:
        return cmd_opts.server_name
    return "0.0.0.0" if cmd_opts.listen else "127.0.0.1"


def server_port(cmd_opts: argparse.Namespace) -> int:
    if cmd_opts.port:
        return int(cmd_opts.port)
    return DEFAULT_PORT_API_ONLY if cmd_opts.nowebui else DEFAULT_PORT_UI


def add_cors(app: FastAPI, cmd_opts: argparse.Namespace) -> None:
    """CORS only for the origins the flags name (A1111's setup_middleware)."""
    origins = [o.strip() for o in (cmd_opts.cors_allow_origins or "").split(",") if o.strip()]
    regex = cmd_opts.cors_allow_origins_regex
    if origins or regex:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_origin_regex=regex,
                           allow_methods=["*"], allow_credentials=True, allow_headers=["*"])


def create_app(cmd_opts: argparse.Namespace, with_ui: bool) -> FastAPI:
    """The FastAPI app with A1111's middleware, the API routes (``--api`` or ``--nowebui``) and the UI."""
    from modules import script_callbacks

    from modules.api import middleware

    script_callbacks.before_ui_callback()
    app = FastAPI(title="Stable Diffusion web UI", docs_url="/docs", redoc_url="/redoc")
    # inside CORS (preflights are answered before authentication), outside everything else
    middleware.install(app, cmd_opts)
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    add_cors(app, cmd_opts)
    if cmd_opts.api or cmd_opts.nowebui:
        from modules.api.api import Api

        Api(app)
    if with_ui:
        import gradio as gr

        from modules import shared
        from modules.ui.frame import create_ui

        shared.demo = create_ui()
        auth = _gradio_auth(cmd_opts)
        known = set(map(id, app.router.routes))
        app = gr.mount_gradio_app(app, shared.demo, path=cmd_opts.subpath or "/", auth=auth or None)
        for route in app.router.routes:
            if id(route) not in known:
                route.webui_ui = True  # type: ignore[attr-defined]  (what --api-auth leaves to --gradio-auth)
        app.state.webui_ui_mounted = True
    from modules import shared as live

    script_callbacks.app_started_callback(live.demo if with_ui else None, app)
    _ui_mount_last(app)
    return app


def _ui_mount_last(app: FastAPI) -> None:
    """Move the UI's mount behind every other route: mounted at ``/`` it would hide routes added after it
    (extensions add theirs in ``app_started`` callbacks)."""
    ui = [r for r in app.router.routes if getattr(r, "webui_ui", False)]
    if ui:
        app.router.routes[:] = [r for r in app.router.routes if not getattr(r, "webui_ui", False)] + ui


def _gradio_auth(cmd_opts: argparse.Namespace) -> list[tuple[str, str]]:
    """``--gradio-auth u:p,u2:p2`` and ``--gradio-auth-path`` lines, split on the first colon."""
    entries: list[str] = []
    if cmd_opts.gradio_auth:
        entries += cmd_opts.gradio_auth.strip('"').replace("\n", "").split(",")
    if cmd_opts.gradio_auth_path:
        with open(cmd_opts.gradio_auth_path, "r", encoding="utf8") as f:
            for line in f:
                entries += [x for x in line.strip().split(",") if x.strip()]
    return [tuple(e.strip().split(":", 1)) for e in entries if ":" in e]  # type: ignore[misc]


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
