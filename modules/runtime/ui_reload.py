"""Reload UI in-process (A1111's ``server_command == "restart"``): what changes between two builds of the page.

Settings marked "requires Reload UI", extensions enabled or disabled, new
extensions installed from the Extensions tab: all of them take effect when the
scripts are imported again and the page is built again.  The model, the
options and the job queue stay as they are: the installed
:class:`~modules.core.services.Services` is updated in place, so
``modules.shared`` and ``modules.scripts`` show the new lists.
"""
from __future__ import annotations

from modules.core.services import Services, current_services
from modules.core.timer import Timer
from modules.runtime.bootstrap import load_all_scripts
from modules.runtime.extension_list import refresh_extensions
from modules.scripting import callbacks


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


def reload_ui(services: Services | None = None) -> Timer:
    """Reload UI's runtime part: a new start-up timer on ``services`` (default: the installed ones), then
    :func:`reload_scripts_and_lists`, timed as "reload scripts"; returns the timer (the page build adds to it)."""
    services = services if services is not None else current_services()
    timer = services.startup_timer = Timer()
    reload_scripts_and_lists(services)
    timer.record("reload scripts")
    return timer
