"""``--autolaunch`` and setting ``auto_launch_browser``: open the page in the system's browser once the server
answers (A1111's ``inbrowser``).

A1111's rule: never when the server was restarted by the page (``SD_WEBUI_RESTARTING=1``, set by the launcher after
an extension install); always with ``--autolaunch`` or the setting at ``Remote``; with ``Local`` (the default) only
when the server listens on this machine alone (none of ``--share``, ``--listen``, ``--ngrok``, ``--server-name``);
never with ``Disable``.  The API alone (``--nowebui``) has no page to open.
"""
from __future__ import annotations

import argparse
import os
import webbrowser
from typing import Any, Callable, Mapping

from modules.core.cmd_args import is_listening_publicly


def should_open_browser(cmd_opts: argparse.Namespace, setting: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the page is opened in a browser at start (see the module's rule)."""
    environ = os.environ if environ is None else environ
    if getattr(cmd_opts, "nowebui", False) or environ.get("SD_WEBUI_RESTARTING") == "1":
        return False
    if getattr(cmd_opts, "autolaunch", False) or setting == "Remote":
        return True
    return setting == "Local" and not is_listening_publicly(cmd_opts)


def page_url(cmd_opts: argparse.Namespace, host: str, port: int) -> str:
    """The page's address on this machine (``https`` with ``--tls-certfile``; under ``--subpath``)."""
    scheme = "https" if getattr(cmd_opts, "tls_certfile", None) else "http"
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    prefix = (getattr(cmd_opts, "subpath", None) or "").rstrip("/")
    return f"{scheme}://{shown}:{port}{prefix}/"


def open_browser_if_asked(cmd_opts: argparse.Namespace, setting: Any, host: str, port: int,
                          opener: Callable[[str], Any] = webbrowser.open) -> bool:
    """Open the page with ``opener`` when :func:`should_open_browser` says so; returns whether it did."""
    if not should_open_browser(cmd_opts, str(setting)):
        return False
    url = page_url(cmd_opts, host, port)
    try:
        opener(url)
    except webbrowser.Error as e:  # no browser on this machine: the address is printed anyway
        print(f"Could not open a browser for {url}: {e}", flush=True)
        return False
    return True
