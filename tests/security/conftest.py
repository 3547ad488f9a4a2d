"""Fixtures of the security tests: the real app (UI + API, an extension's routes), every route it serves as a
concrete request, and the guards of ``modules.api.middleware`` around a stand-in app that records what got
through (so every route is tried without running its handler)."""
from __future__ import annotations

import base64
import re
from types import SimpleNamespace
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import preserved_shared

EXTENSION = '''
from fastapi import Body, WebSocket

from modules import script_callbacks


def write(payload: dict):
    return payload


def replace(data=Body(...)):
    return {"got": data}


def on_app_started(demo, app):
    app.add_api_route("/sec-ext/read", lambda: {"ok": True}, methods=["GET"])
    app.add_api_route("/sec-ext/write", write, methods=["POST"])
    app.add_api_route("/sec-ext/json", replace, methods=["PUT"])

    async def socket(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    app.add_api_websocket_route("/sec-ext/ws", socket)


script_callbacks.on_app_started(on_app_started)
'''
"""An extension adding routes after the UI is mounted: a read, two writes and a WebSocket."""

API_LOGIN = ("api-user", "api:secret")
UI_LOGIN = ("ui-user", "ui-secret")
OWN = "http://127.0.0.1:7860"
FOREIGN = "http://evil.example"
REBINDING = "http://evil.example:7860"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def add_extension(data_dir) -> None:
    folder = data_dir / "extensions" / "sec-ext" / "scripts"
    folder.mkdir(parents=True)
    (folder / "routes.py").write_text(EXTENSION)


def build_site(data_dir, *flags: str, with_ui: bool = True):
    """Bootstrap in ``data_dir`` and build the app as ``webui.py`` does (UI and ``--api``)."""
    from modules import shared
    from modules.app_server import create_app
    from modules.runtime.bootstrap import initialize

    initialize(["--data-dir", str(data_dir), "--api", "--skip-load-model-at-start", *flags])
    return create_app(shared.cmd_opts, with_ui=with_ui)


def concrete(path: str) -> str:
    """A request path for a route template: every ``{parameter}`` filled with ``x``."""
    return re.sub(r"\{[^}]*\}", "x", path)


def requests_of(app) -> list[tuple[str, str]]:
    """(method, path) of every route of ``app`` (mounted apps and included routers too); ``WS`` for a WebSocket."""
    from starlette.routing import WebSocketRoute

    from modules.api.route_lookup import iter_routes

    found = []
    for entry in iter_routes(app.router.routes):
        path = concrete(entry.path)
        if isinstance(entry.route, WebSocketRoute) or type(entry.route).__name__ == "APIWebSocketRoute":
            found.append(("WS", path))
        for method in sorted(entry.methods or ()):
            found.append((method, path))
    return sorted(set(found))


def ui_app_of(app) -> Any:
    from modules.server.internal_routes import gradio_app_of

    return gradio_app_of(app)


def flags(**values: Any) -> SimpleNamespace:
    """A ``cmd_opts`` for the policies: every flag they read, unset unless given."""
    base = dict(api_auth=None, gradio_auth=None, gradio_auth_path=None, listen=False, server_name=None, port=None,
                nowebui=False, cors_allow_origins=None, cors_allow_origins_regex=None, subpath=None)
    return SimpleNamespace(**{**base, **values})


async def reached(scope, receive, send) -> None:
    """The stand-in for every route: answers 200 with ``x-reached`` (accepts a WebSocket)."""
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        return
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-reached", b"1")]})
    await send({"type": "http.response.body", "body": b"reached"})


def guarded_client(site, cmd_opts: SimpleNamespace) -> TestClient:
    """A TestClient of the guards made for ``cmd_opts`` around :func:`reached`, routes looked up in ``site``
    and UI sessions those of ``site``'s gradio app."""
    from modules.api.access import AccessPolicy
    from modules.api.middleware import RequestGuards
    from modules.api.origin import OriginPolicy

    access = AccessPolicy.from_flags(cmd_opts)
    ui_app = ui_app_of(site)
    if ui_app is not None:
        access.attach_ui(ui_app, (cmd_opts.subpath or "").rstrip("/"))
    return TestClient(RequestGuards(reached, access, OriginPolicy.from_flags(cmd_opts), site))


def was_reached(response) -> bool:
    return response.headers.get("x-reached") == "1"


def add_lora(data_dir) -> None:
    """A LoRA card ``mylora`` (safetensors with metadata) and its preview, for the metadata editor's routes."""
    import torch
    from PIL import Image
    from safetensors.torch import save_file

    folder = data_dir / "models" / "Lora"
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"w": torch.zeros(1)}, str(folder / "mylora.safetensors"), metadata={"ss_note": "hello"})
    Image.new("RGB", (8, 8), (10, 200, 10)).save(folder / "mylora.png")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[Any, Any]]:
    """The UI + API app without any login, with the extension's routes and a LoRA card (module-wide); yields
    (app, data dir)."""
    data_dir = tmp_path_factory.mktemp("data")
    add_extension(data_dir)
    add_lora(data_dir)
    with preserved_shared():
        app = build_site(data_dir)
        yield app, data_dir
