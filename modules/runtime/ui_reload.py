"""Reload UI in-process (A1111's ``server_command == "restart"``): what changes between two builds of the page.

Settings marked "requires Reload UI", extensions enabled or disabled, new
extensions installed from the Extensions tab: all of them take effect when the
scripts are imported again and the page is built again.  The model, the
options and the job queue stay as they are: the installed
:class:`~modules.core.services.Services` is updated in place, so
``modules.shared`` and ``modules.scripts`` show the new lists.
"""
from __future__ import annotations

from modules.core.extensions import list_extensions
from modules.core.services import Services, current_services
from modules.runtime.bootstrap import load_all_scripts
from modules.scripting import callbacks


def refresh_extensions(services: Services | None = None) -> None:
    """List the extension folders again (a new install shows up; enabled states come from the settings)."""
    services = services if services is not None else current_services()
    opts = services.opts
    services.extensions = list_extensions(services.paths, opts.data, services.cmd_opts,
                                          startup_settings=getattr(opts, "startup_extension_settings", None))


def reload_scripts_and_lists(services: Services | None = None) -> None:
    """Tell extensions the UI goes away, then list extensions, checkpoints, VAEs and scripts again."""
    services = services if services is not None else current_services()
    callbacks.app_reload_callback()
    callbacks.script_unloaded_callback()
    refresh_extensions(services)
    if services.checkpoints is not None:
        services.checkpoints.refresh()
    if services.vae_files is not None:
        services.vae_files.refresh()
    if services.prompt_styles is not None:
        services.prompt_styles.reload()
    load_all_scripts(services)
