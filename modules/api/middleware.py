"""HTTP middleware of the app: ``X-Process-Time`` and ``--api-log``, the login rule, the cross-site checks.

Plain ASGI classes (no per-request task or body buffering), installed by
:func:`install` on the outermost app, so they see every request of the API and
of the mounted gradio UI alike (gradio's own routes, files, routes extensions
add).  From the outside in: CORS (added by the caller, so preflights of allowed
origins are answered before anything else), :class:`ProcessTimeMiddleware`,
:class:`OriginGuard` (a page of another site may not change anything),
:class:`AuthGuard` (nothing answers without a login when one is configured),
:class:`JsonBodyGuard` (a route reading JSON takes nothing else).
What each rule allows is written in :mod:`modules.api.access` and
:mod:`modules.api.origin`.
"""
from __future__ import annotations

import datetime
import json
import threading
import time
from typing import Any, Awaitable, Callable

from starlette.datastructures import Headers
from starlette.requests import cookie_parser

from modules.api.access import AccessPolicy, login_page
from modules.api.origin import OriginPolicy, browser_origin, cross_site_by_fetch_metadata, is_json_content_type
from modules.api.route_lookup import find_route, route_path, route_reads_json

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BASIC_AUTH_PATHS = ("/sdapi/", "/docs", "/redoc", "/openapi.json")
"""Paths whose 401 asks for HTTP Basic (``WWW-Authenticate``) although the UI is mounted: the API's own.  The
page's routes do not ask, so that its requests never pop up the browser's password dialog."""


async def _send_error(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    """A1111's error body (``error``, ``detail``, ``body``, ``errors``)."""
    payload = json.dumps({"error": "HTTPException", "detail": detail, "body": "",
                          "errors": f"{status}: {detail}"}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})


async def _refuse_websocket(send: Send) -> None:
    # closing before accepting answers the handshake with 403
    await send({"type": "websocket.close", "code": 1008})


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


class OriginGuard:
    """Refuses a state-changing request (POST, PUT, PATCH, DELETE) or a WebSocket handshake that a page of
    another site makes the user's browser send: its ``Origin`` (else ``Referer``) is not one
    :class:`~modules.api.origin.OriginPolicy` allows, or, with neither header, the browser marks it
    cross-site (``Sec-Fetch-Site``).  403; scripts and API clients send none of these headers and pass."""

    MAX_WARNINGS = 20

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket" or (kind == "http" and scope.get("method") in UNSAFE_METHODS):
            refusal = self.refusal(Headers(scope=scope))
            if refusal is not None:
                if kind == "websocket":
                    await _refuse_websocket(send)
                else:
                    await _send_error(send, 403, refusal)
                return
        await self.app(scope, receive, send)

    def refusal(self, headers: Headers) -> str | None:
        """Why the request is refused, or None when it may pass."""
        origin = browser_origin(headers)
        if origin is None:
            return "Cross-site request refused" if cross_site_by_fetch_metadata(headers) else None
        if self.policy.allows(origin):
            return None
        self._warn(origin)
        return (f"Origin {origin} is not allowed: if the UI is served under this address (a reverse proxy, "
                f"a tunnel), start with --cors-allow-origins {origin}")

    def _warn(self, origin: str) -> None:
        """One console line per refused origin (a few at most): the user behind a proxy learns the flag."""
        with self._lock:
            if origin in self._warned or len(self._warned) >= self.MAX_WARNINGS:
                return
            self._warned.add(origin)
        print(f"Refused a request from the page at {origin}: not an address of this server "
              f"(--cors-allow-origins allows it)", flush=True)


class JsonBodyGuard:
    """415 for a state-changing request whose body is declared as something other than JSON (``text/plain``,
    a form) to a route that reads JSON: those are the bodies a page may send to another site without asking
    first.  A request without ``Content-Type`` is left to the route."""

    def __init__(self, app: ASGIApp, site: Any) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in UNSAFE_METHODS:
            content_type = Headers(scope=scope).get("content-type")
            if content_type is not None and not is_json_content_type(content_type):
                entry = find_route(self.site, scope)
                if entry is not None and route_reads_json(entry.route):
                    media = content_type.split(";", 1)[0].strip()
                    await _send_error(send, 415, f"Send the body as JSON (Content-Type: application/json), not {media}")
                    return
        await self.app(scope, receive, send)


class AuthGuard:
    """Answers nothing without a login when one is configured (:mod:`modules.api.access` says what counts);
    the UI's login page and its form post are the exception."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.policy.enabled:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.policy.logged_in(headers, cookie_parser(headers.get("cookie", ""))):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await _refuse_websocket(send)
            return
        method, path = scope.get("method", "GET"), route_path(scope)
        if self.policy.is_login_page(method, path):
            if method == "POST":
                await self.app(scope, receive, send)  # gradio's /login checks the password (AccessPolicy's)
            else:
                await self._send_login_page(send, with_body=method != "HEAD")
            return
        asks_basic = self.policy.ui_app is None or path.startswith(BASIC_AUTH_PATHS)
        await _send_error(send, 401, "Not authenticated", [(b"www-authenticate", b"Basic")] if asks_basic else [])

    async def _send_login_page(self, send: Send, with_body: bool) -> None:
        page = login_page(self.policy.ui_prefix)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(page)).encode()), (b"cache-control", b"no-store"),
                                (b"x-frame-options", b"DENY"),
                                (b"content-security-policy", b"frame-ancestors 'none'")]})
        await send({"type": "http.response.body", "body": page if with_body else b""})


class RequestGuards:
    """The three guards in their order, around ``app``: :class:`OriginGuard`, then :class:`AuthGuard` (a
    refused cross-site request learns nothing about the login), then :class:`JsonBodyGuard` (routes are looked
    up only for logged-in requests).  ``site`` is the outermost app, whose routes the last one looks up."""

    def __init__(self, app: ASGIApp, access: AccessPolicy, origins: OriginPolicy, site: Any) -> None:
        self.app = OriginGuard(AuthGuard(JsonBodyGuard(app, site), access), origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def install(app: Any, cmd_opts: Any) -> None:
    """Add the middleware (once) for the flags in ``cmd_opts``; call before the CORS middleware is added.

    The policies are kept on ``app.state`` (``webui_access``, ``webui_origins``): the UI, mounted later,
    attaches its login sessions to ``webui_access``.
    """
    if getattr(app.state, "webui_access", None) is not None:
        return
    access = AccessPolicy.from_flags(cmd_opts)
    origins = OriginPolicy.from_flags(cmd_opts)
    app.state.webui_access = access
    app.state.webui_origins = origins
    app.add_middleware(RequestGuards, access=access, origins=origins, site=app)
    app.add_middleware(ProcessTimeMiddleware, log=lambda: bool(getattr(cmd_opts, "api_log", False)))
