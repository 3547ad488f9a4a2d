"""Public links to a locally served UI: gradio's share tunnel (``--share``) and ngrok (``--ngrok``).

Both need the internet.  Offline, each fails with one clear line and the
server goes on serving locally.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Callable

from modules.api.origin import allow_public_url


class ShareUnavailable(RuntimeError):
    """A public link could not be created; the message says why."""


@dataclass(frozen=True)
class NgrokToken:
    """``--ngrok TOKEN`` or ``--ngrok TOKEN:USER:PASS`` (the latter adds HTTP basic auth, as A1111)."""

    authtoken: str
    basic_auth: str | None = None

    @classmethod
    def parse(cls, value: str) -> "NgrokToken":
        token, sep, auth = value.partition(":")
        if not token:
            raise ShareUnavailable("--ngrok needs an auth token (TOKEN or TOKEN:USER:PASS)")
        if sep and ":" not in auth:
            raise ShareUnavailable("--ngrok credentials must be TOKEN:USER:PASS")
        return cls(token, auth if sep else None)


def _pyngrok_connect(port: int, token: NgrokToken, options: dict) -> str:
    try:  # installed by launch.py only when --ngrok is given
        from pyngrok import conf, ngrok
    except ImportError as e:
        raise ShareUnavailable("--ngrok needs the pyngrok package: it is installed by launch.py when --ngrok is given") from e
    config = conf.PyngrokConfig(auth_token=token.authtoken)
    kwargs: dict[str, Any] = dict(options)
    if token.basic_auth:
        kwargs["auth"] = token.basic_auth
    tunnel = ngrok.connect(str(port), pyngrok_config=config, **kwargs)
    return tunnel.public_url


def connect_ngrok(port: int, token_value: str, options: dict | None = None,
                  connector: Callable[[int, NgrokToken, dict], str] = _pyngrok_connect) -> str:
    """Open an ngrok tunnel to ``port``; returns the public URL or raises :class:`ShareUnavailable`."""
    token = NgrokToken.parse(token_value)
    try:
        return connector(port, token, dict(options or {}))
    except ShareUnavailable:
        raise
    except Exception as e:  # pyngrok raises its own errors, OSError, or HTTP errors offline
        raise ShareUnavailable(f"could not open the ngrok tunnel (it needs internet access): {e}") from e


def _gradio_tunnel(host: str, port: int) -> str:
    from gradio.networking import setup_tunnel

    return setup_tunnel(host, port, secrets.token_urlsafe(32), None, None)


def create_gradio_share_link(host: str, port: int, tunnel: Callable[[str, int], str] = _gradio_tunnel) -> str:
    """Open gradio's share tunnel to the local server; returns the public URL or raises :class:`ShareUnavailable`."""
    try:
        return tunnel(host, port)
    except Exception as e:  # gradio raises RuntimeError, httpx and OS errors offline
        cause = e.__cause__ or e
        raise ShareUnavailable(f"could not create a share link (it needs internet access): {e} ({cause})") from e


def open_public_links(cmd_opts: Any, host: str, port: int) -> list[str]:
    """Create what ``--share`` / ``--ngrok`` ask for; failures are printed on one line each, not fatal."""
    links = []
    local_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if cmd_opts.ngrok:
        try:
            url = connect_ngrok(port, cmd_opts.ngrok, cmd_opts.ngrok_options)
            allow_public_url(url)  # the page at the link may post to the server
            print(f"ngrok connected to localhost:{port}! URL: {url}", flush=True)
            links.append(url)
        except ShareUnavailable as e:
            print(f"--ngrok: {e}", flush=True)
    if cmd_opts.share:
        try:
            url = create_gradio_share_link(local_host, port)
            allow_public_url(url)
            print(f"Running on public URL: {url}", flush=True)
            links.append(url)
        except ShareUnavailable as e:
            print(f"--share: {e}", flush=True)
    return links
