"""Builds and serves the HTTP application: the code lives in :mod:`modules.server.app`."""
from modules.server.app import (add_cors, create_app, reload_requested, request_reload, request_stop, serve,
                                server_host, server_port)

__all__ = ["add_cors", "create_app", "reload_requested", "request_reload", "request_stop", "serve", "server_host",
           "server_port"]
