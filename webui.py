"""Entry point of the web UI: ``initialize()`` in A1111's order, then the UI or the API alone.

Run through ``launch.py`` (``./webui.sh``), or directly: ``python webui.py [flags]``.
"""
from __future__ import annotations

import os
import sys
import threading
from typing import Sequence

from modules.core.cmd_args import FlagError, full_argv


def main(argv: Sequence[str]) -> int:
    """Start the server for the complete argument list ``argv``; returns the exit code."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from modules import shared
    from modules.runtime.bootstrap import initialize
    from modules.server import app as app_server, autolaunch, share_links

    try:
        result = initialize(argv, background_model_load=True)
    except FlagError as e:
        print(f"webui: error: {e}", file=sys.stderr)
        return 2
    cmd_opts = shared.cmd_opts
    if cmd_opts.ray:
        from modules.distributed import start as start_ray  # only with --ray: imports ray

        try:
            start_ray(result.services)
        except RuntimeError as e:
            print(f"webui: error: {e}", file=sys.stderr)
            return 2

    timer = result.timer
    host, port = app_server.server_host(cmd_opts), app_server.server_port(cmd_opts)
    what = "API" if cmd_opts.nowebui else "web UI"
    shown_host = "127.0.0.1" if host == "0.0.0.0" else host
    first = True

    def ready() -> None:
        print(f"Running the {what} on: http://{shown_host}:{port}", flush=True)
        print(f"Startup time: {timer.summary()}.", flush=True)
        if first:
            autolaunch.open_browser_if_asked(cmd_opts, shared.opts.auto_launch_browser, host, port)
        if first and (cmd_opts.share or cmd_opts.ngrok):
            # tunnels need the internet: opened in the background, failures printed, local serving goes on
            threading.Thread(target=share_links.open_public_links, args=(cmd_opts, host, port), daemon=True).start()

    threading.Thread(target=_follow_server_commands, daemon=True, name="server commands").start()
    if not cmd_opts.nowebui:
        from modules.ui.gallery_files import cleanup_at_start

        cleanup_at_start()
    while True:
        app = app_server.create_app(cmd_opts, with_ui=not cmd_opts.nowebui)
        timer.record("create app")
        app_server.serve(app, cmd_opts, on_ready=ready)
        if not app_server.reload_requested():
            return 0
        # Reload UI (A1111's server_command "restart"): the same process, port, model and queue; the scripts,
        # the extensions list and the page are built again
        first = False
        print("Reloading the UI...", flush=True)
        from modules.runtime.ui_reload import reload_ui

        timer = reload_ui(result.services)


def _follow_server_commands() -> None:
    """Turn ``shared.state.request_restart()`` into a stop of the serving loop's current server."""
    from modules import shared
    from modules.server import app as app_server

    while True:
        command = shared.state.wait_for_server_command(timeout=None)
        if command == "restart":
            app_server.request_reload()
        elif command == "stop":
            app_server.request_stop()


def webui() -> None:
    """A1111's name for starting the UI from ``launch.py``."""
    sys.exit(main(full_argv()))


def api_only() -> None:
    """A1111's name for starting the API alone."""
    sys.exit(main(full_argv() + ["--nowebui"]))


if __name__ == "__main__":
    sys.exit(main(full_argv()))
