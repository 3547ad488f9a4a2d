"""Reload UI in-process (A1111's ``server_command == "restart"``): what changes between two builds of the page.

Settings marked "requires Reload UI", extensions enabled or disabled, new
extensions installed from the Extensions tab: all of them take effect when the
scripts are imported again and the page is built again.  The model, the
options and the job queue stay as they are.
"""
from __future__ import annotations

from modules import shared


def reload_scripts_and_lists() -> None:
    """Tell extensions the UI goes away, then list extensions, checkpoints, VAEs and scripts again."""
    from modules import script_callbacks
    from modules.core.extensions import list_extensions
    from modules.runtime.bootstrap import load_all_scripts

    script_callbacks.app_reload_callback()
    script_callbacks.script_unloaded_callback()
    shared.extensions = list_extensions(shared.paths, shared.opts.data, shared.cmd_opts,
                                        startup_settings=getattr(shared.opts, "startup_extension_settings", None))
    if shared.checkpoints is not None:
        shared.checkpoints.refresh()
    if shared.vae_files is not None:
        shared.vae_files.refresh()
    if shared.prompt_styles is not None:
        shared.prompt_styles.reload()
    load_all_scripts()
