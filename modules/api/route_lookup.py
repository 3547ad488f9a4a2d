"""Every route an app serves, flattened (mounted apps and included routers too), and the one a request reaches.

The request guards use it to learn what a route reads before the route runs: a
route whose body is JSON (a pydantic body, or an endpoint marked with
:func:`reads_json`) must not accept a ``text/plain`` or form body, the kinds a
page of another site may send without asking first.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RouteEntry:
    """One route as the outermost app sees it: its full path template, methods (None: any) and the route."""

    path: str
    methods: frozenset[str] | None
    route: Any


def reads_json(endpoint: F) -> F:
    """Mark an endpoint that reads its body as JSON itself (``await request.json()``), so the guards treat it
    like a route with a pydantic body."""
    endpoint.webui_reads_json = True  # type: ignore[attr-defined]
    return endpoint


def iter_routes(routes: Any, prefix: str = "") -> Iterator[RouteEntry]:
    """Every leaf route under ``routes`` with its full path, descending into mounts and included routers."""
    from starlette.routing import Mount

    for route in routes:
        if hasattr(route, "effective_candidates"):  # a router included into a FastAPI app
            yield from iter_routes(route.effective_candidates(), prefix)
        elif isinstance(route, Mount):
            yield from iter_routes(route.routes, prefix + route.path.rstrip("/"))
        elif getattr(route, "path", None) is not None:
            methods = getattr(route, "methods", None)
            yield RouteEntry(prefix + route.path, frozenset(methods) if methods else None, route)


@functools.lru_cache(maxsize=1024)
def _path_regex(path: str) -> re.Pattern[str]:
    from starlette.routing import compile_path

    return compile_path(path)[0]


def route_path(scope: dict[str, Any]) -> str:
    """The request's path below the server's root path (what the outermost router matches)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root):] or "/"
    return path


def find_route(app: Any, scope: dict[str, Any]) -> RouteEntry | None:
    """The first route of ``app`` whose path and method match the request (starlette's order), or None."""
    path, method = route_path(scope), scope.get("method")
    for entry in iter_routes(app.router.routes):
        if entry.methods is not None and method is not None and method not in entry.methods:
            continue
        if _path_regex(entry.path).match(path):
            return entry
    return None


def route_reads_json(route: Any) -> bool:
    """Whether ``route`` parses its body as JSON: a FastAPI body that is not a form or file, or a marked endpoint."""
    from fastapi import params

    if getattr(getattr(route, "endpoint", None), "webui_reads_json", False):
        return True
    body = getattr(route, "body_field", None)
    if body is None:
        return False
    return not isinstance(getattr(body, "field_info", None), params.Form)  # params.File is a Form too
