"""Listing the extension folders again while the app runs (Reload UI, a new install from the Extensions tab)."""
from __future__ import annotations

from modules.core.extensions import list_extensions
from modules.core.services import Services, current_services


def refresh_extensions(services: Services | None = None) -> None:
    """List the extension folders again (a new install shows up; enabled states come from the settings)."""
    services = services if services is not None else current_services()
    opts = services.opts
    services.extensions = list_extensions(services.paths, opts.data, services.cmd_opts,
                                          startup_settings=getattr(opts, "startup_extension_settings", None))
