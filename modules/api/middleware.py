"""HTTP middleware of the app: ``X-Process-Time`` and ``--api-log``, ``--api-auth`` on every route, Origin checks.

Plain ASGI classes (no per-request task or body buffering), installed by
:func:`install` inside the CORS middleware so preflight requests are answered before
authentication.  ``--api-auth`` covers every route of the app — the API's, ``/docs``,
``/openapi.json``, ``/internal/...`` in API-only mode and any route an extension adds —
except what the gradio UI serves (``--gradio-auth`` protects that) when the UI is mounted.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import json
import time
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def parse_credentials(spec: str | None) -> dict[str, str]:
    """``user:password[,user2:password2]`` (the password may contain colons) -> {user: password}."""
    credentials: dict[str, str] = {}
    for entry in (spec or "").strip().strip('"').split(","):
        entry = entry.strip()
        if ":" in entry:
            user, password = entry.split(":", 1)
            credentials[user] = password
    return credentials


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


async def _send_json(send: Send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})


class ProcessTimeMiddleware:
    """Adds ``X-Process-Time`` (seconds) to every answer; with ``--api-log`` prints one line per ``/sdapi`` request."""

    def __init__(self, app: ASGIApp, log: Callable[[], bool] = lambda: False) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.time()
        status_holder = {"status": 0}

        async def timed_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers") or [])
                headers.append((b"x-process-time", str(round(time.time() - start, 4)).encode()))
                message = dict(message, headers=headers)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            path = scope.get("path", "err")
            if path.startswith("/sdapi") and self.log():
                client = (scope.get("client") or ("0:0.0.0", 0))[0]
                print(f"API {datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S.%f')} {status_holder['status']} "
                      f"{scope.get('scheme', 'err')}/{scope.get('http_version', '0.0')} {scope.get('method', 'err')} "
                      f"{path} {client} {round(time.time() - start, 4)}", flush=True)


class BasicAuthMiddleware:
    """HTTP Basic authentication for every request except those ``exempt(scope)`` accepts."""

    def __init__(self, app: ASGIApp, credentials: dict[str, str], exempt: Callable[[Scope], bool] = lambda s: False) -> None:
        self.app = app
        self.credentials = credentials
        self.exempt = exempt

    def authorized(self, scope: Scope) -> bool:
        header = _header(scope, b"authorization")
        if not header or not header[:6].lower() == "basic ":
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        # compare against every entry so the time taken does not tell which user names exist
        ok = False
        for known_user, known_password in self.credentials.items():
            user_ok = hmac.compare_digest(user.encode(), known_user.encode())
            password_ok = hmac.compare_digest(password.encode(), known_password.encode())
            ok |= user_ok and password_ok
        return ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.exempt(scope) or self.authorized(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await _send_json(send, 401, {"error": "HTTPException", "detail": "Incorrect username or password", "body": "",
                                     "errors": "401: Incorrect username or password"},
                         [(b"www-authenticate", b"Basic")])


class OriginCheckMiddleware:
    """Refuses state-changing requests a browser sends from another site (``Origin`` not the server's own).

    Requests without ``Origin`` (scripts, API clients) pass; origins allowed by
    ``--cors-allow-origins`` / ``-regex`` pass.
    """

    def __init__(self, app: ASGIApp, allowed: Callable[[str], bool], exempt: Callable[[Scope], bool] = lambda s: False) -> None:
        self.app = app
        self.allowed = allowed
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in UNSAFE_METHODS and not self.exempt(scope):
            origin = _header(scope, b"origin")
            if origin is not None and not self._same_site(scope, origin) and not self.allowed(origin):
                await _send_json(send, 403, {"error": "HTTPException", "detail": f"Origin {origin} is not allowed",
                                             "body": "", "errors": f"403: Origin {origin} is not allowed"})
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _same_site(scope: Scope, origin: str) -> bool:
        netloc = urlsplit(origin).netloc.lower()
        hosts = {(_header(scope, b"host") or "").lower(), (_header(scope, b"x-forwarded-host") or "").lower()}
        return bool(netloc) and netloc in hosts


def cors_origin_allowed(cmd_opts: Any) -> Callable[[str], bool]:
    """Whether an origin is one ``--cors-allow-origins`` / ``--cors-allow-origins-regex`` allow."""
    import re

    origins = {o.strip() for o in (getattr(cmd_opts, "cors_allow_origins", None) or "").split(",") if o.strip()}
    regex = getattr(cmd_opts, "cors_allow_origins_regex", None)
    pattern = re.compile(regex) if regex else None
    return lambda origin: origin in origins or "*" in origins or bool(pattern and pattern.fullmatch(origin))


def ui_request_checker(app: Any) -> Callable[[Scope], bool]:
    """True for requests the mounted gradio UI serves (``app.state.webui_ui_mounted``): those matching no
    route of the app's own but the UI's mount, and the UI's ``/internal/`` routes."""
    from starlette.routing import Match, Mount

    def is_ui(scope: Scope) -> bool:
        if not getattr(app.state, "webui_ui_mounted", False):
            return False
        path = scope.get("path", "")
        if path.startswith("/internal/"):
            return True
        for route in app.router.routes:
            match, _ = route.matches(scope)
            if match == Match.NONE:
                continue
            return isinstance(route, Mount) and getattr(route, "webui_ui", False)
        return False

    return is_ui


def install(app: Any, cmd_opts: Any) -> None:
    """Add the middleware (once) for the flags in ``cmd_opts``; call before the CORS middleware is added."""
    if getattr(app.state, "sdapi_middleware", False):
        return
    app.state.sdapi_middleware = True
    is_ui = ui_request_checker(app)
    app.add_middleware(OriginCheckMiddleware, allowed=cors_origin_allowed(cmd_opts), exempt=is_ui)
    credentials = parse_credentials(getattr(cmd_opts, "api_auth", None))
    if credentials:
        app.add_middleware(BasicAuthMiddleware, credentials=credentials, exempt=is_ui)
    app.add_middleware(ProcessTimeMiddleware, log=lambda: bool(getattr(cmd_opts, "api_log", False)))
