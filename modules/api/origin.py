"""Which web origins may drive the server: its own addresses, the public links it opened, and the CORS flags.

A browser names the page a request comes from in ``Origin`` (or, failing that,
``Referer``).  The server compares it with the addresses it serves itself,
derived from its own configuration and never from the request (``Host`` and
``X-Forwarded-Host`` are written by whoever sends the request, so a DNS-rebinding
page at ``http://evil.example:7860`` would name itself in both):

- ``localhost``, ``127.0.0.1`` and ``[::1]`` on the server's port (``--port``, else
  7860, or 7861 with ``--nowebui``);
- ``--server-name`` on that port, or on the scheme's default port (a reverse
  proxy in front of it);
- with ``--listen`` (or a wildcard ``--server-name``), the machine's own host
  name (also ``<name>.local``) and interface addresses on that port;
- the links ``--share`` and ``--ngrok`` opened (:func:`allow_public_url`);
- whatever ``--cors-allow-origins`` / ``--cors-allow-origins-regex`` allow: a page
  served under another name (a reverse proxy, a tunnel of your own) is named there.

The path (``--subpath``) is no part of an origin.
"""
from __future__ import annotations

import re
import socket
import threading
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from modules.core.cmd_args import DEFAULT_PORT_API_ONLY, DEFAULT_PORT_UI

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

_public_origins: set[str] = set()
_public_lock = threading.Lock()


def listening_port(cmd_opts: Any) -> int:
    """``--port``, else 7861 for the API alone (``--nowebui``) and 7860 with the UI."""
    if getattr(cmd_opts, "port", None):
        return int(cmd_opts.port)
    return DEFAULT_PORT_API_ONLY if getattr(cmd_opts, "nowebui", False) else DEFAULT_PORT_UI


def allow_public_url(url: str) -> None:
    """Trust the origin of a public link this process opened (``--share``, ``--ngrok``) from now on."""
    origin = origin_of(url)
    if origin is not None:
        with _public_lock:
            _public_origins.add(origin)


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, default ports left out; None when it has no host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").rstrip(".")
    if not scheme or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _host_and_port(origin: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.hostname.rstrip(".").lower(), port if port is not None else DEFAULT_PORTS[parts.scheme]


def _machine_hosts() -> set[str]:
    """The machine's host name and the addresses of its network interfaces (what ``--listen`` serves)."""
    hosts: set[str] = set(WILDCARD_HOSTS - {""})
    name = socket.gethostname().lower()
    if name:
        hosts |= {name, f"{name}.local", name.split(".")[0]}
    try:
        import psutil

        for addresses in psutil.net_if_addrs().values():
            for address in addresses:
                if address.family in (socket.AF_INET, socket.AF_INET6):
                    hosts.add(address.address.split("%")[0].lower())
    except (ImportError, OSError):
        pass
    return hosts


class OriginPolicy:
    """Decides whether an origin is the server's own or one the flags allow."""

    def __init__(self, port: int, hosts: Iterable[str] = LOOPBACK_HOSTS, named_hosts: Iterable[str] = (),
                 cors_origins: Iterable[str] = (), cors_regex: str | None = None) -> None:
        self.port = port
        self.hosts = {h.strip("[]").rstrip(".").lower() for h in hosts} | set(LOOPBACK_HOSTS)
        self.named_hosts = {h.strip("[]").rstrip(".").lower() for h in named_hosts}
        self.cors_origins = {o.strip() for o in cors_origins if o.strip()}
        self.cors_pattern = re.compile(cors_regex) if cors_regex else None

    @classmethod
    def from_flags(cls, cmd_opts: Any) -> "OriginPolicy":
        """The policy for ``--listen``, ``--server-name``, ``--port``/``--nowebui`` and the CORS flags."""
        hosts: set[str] = set(LOOPBACK_HOSTS)
        named: set[str] = set()
        server_name = (getattr(cmd_opts, "server_name", None) or "").strip().strip("[]").lower()
        if getattr(cmd_opts, "listen", False) or (getattr(cmd_opts, "server_name", None) is not None
                                                  and server_name in WILDCARD_HOSTS):
            hosts |= _machine_hosts()
        if server_name and server_name not in WILDCARD_HOSTS:
            hosts.add(server_name)
            if server_name not in LOOPBACK_HOSTS:  # another local service on port 80 is no proxy of ours
                named.add(server_name)
        cors = (getattr(cmd_opts, "cors_allow_origins", None) or "").split(",")
        return cls(listening_port(cmd_opts), hosts, named, cors, getattr(cmd_opts, "cors_allow_origins_regex", None))

    def is_own(self, origin: str) -> bool:
        """Whether ``origin`` is an address of this server (or a public link it opened)."""
        found = _host_and_port(origin)
        if found is None:
            return False
        host, port = found
        if host in self.hosts and port == self.port:
            return True
        if host in self.named_hosts and port == DEFAULT_PORTS[urlsplit(origin).scheme]:
            return True
        with _public_lock:
            return origin_of(origin) in _public_origins

    def cors_allowed(self, origin: str) -> bool:
        """Whether ``--cors-allow-origins`` / ``--cors-allow-origins-regex`` allow ``origin`` (as the CORS
        middleware compares them: the exact string, or a full regex match)."""
        if origin in self.cors_origins or "*" in self.cors_origins:
            return True
        return bool(self.cors_pattern and self.cors_pattern.fullmatch(origin))

    def allows(self, origin: str) -> bool:
        """Whether a browser page at ``origin`` may send state-changing requests."""
        if origin == "null":  # sandboxed frames, file:// pages, cross-site redirects: never ours
            return "null" in self.cors_origins
        return self.cors_allowed(origin) or self.is_own(origin)


def browser_origin(headers: Mapping[str, str]) -> str | None:
    """The origin a browser request comes from: ``Origin``, else the origin of ``Referer``; None when neither
    says (requests of scripts and API clients, or a browser that withheld both)."""
    origin = headers.get("origin")
    if origin is not None:
        return origin.strip()
    referer = headers.get("referer")
    if referer:
        return origin_of(referer) or "null"
    return None


def cross_site_by_fetch_metadata(headers: Mapping[str, str]) -> bool:
    """Whether the browser itself marks the request as coming from another origin (``Sec-Fetch-Site``) — the
    last word when it sent neither ``Origin`` nor ``Referer``."""
    return headers.get("sec-fetch-site", "").strip().lower() in ("cross-site", "same-site")


def is_json_content_type(value: str | None) -> bool:
    """``application/json`` or any ``application/*+json`` (parameters such as ``charset`` ignored)."""
    if value is None:
        return False
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
