"""Where script files are, for the running app (A1111's ``scripts.basedir``, ``list_scripts`` and friends).

The install root and the active extensions come from the installed services
(:func:`modules.core.services.current_services`): these helpers are A1111's
module-level API, called from extensions' code with no services at hand.
"""
from __future__ import annotations

import os

from modules.core.extensions import ScriptFile
from modules.core.paths import INSTALL_DIR
from modules.core.services import current_services
from modules.scripting import load_order
from modules.scripting.loading_context import current_script


def install_dir() -> str:
    """The install root of the running app (the code's folder before start-up)."""
    paths = current_services().paths
    return paths.install_dir if paths is not None else INSTALL_DIR


def active_extensions() -> list:
    """The enabled extensions of the running app (empty before start-up)."""
    return [ext for ext in (current_services().extensions or []) if getattr(ext, "enabled", False)]


def basedir() -> str:
    """The folder of the extension whose script is being loaded (the install root for the root ``scripts/``).

    Call it at the top level of a script file; afterwards it returns the install root.
    """
    loading = current_script()
    return loading.basedir if loading is not None else install_dir()


def list_scripts(scriptdirname: str, extension: str, *, include_extensions: bool = True) -> list[ScriptFile]:
    """Files of ``<root>/<scriptdirname>`` and of each active extension's, in load order (A1111 name)."""
    return load_order.list_scripts(scriptdirname, extension, install_dir=install_dir(),
                                   extensions=active_extensions(), include_extensions=include_extensions)


def list_files_with_name(filename: str) -> list[str]:
    """Paths of ``filename`` in the install root and in each active extension's folder, where it exists."""
    dirs = [install_dir(), *(ext.path for ext in active_extensions())]
    return [os.path.join(d, filename) for d in dirs if os.path.isfile(os.path.join(d, filename))]


def script_files_dirs() -> list[tuple[str, str]]:
    """``(basedir, scripts dir)`` of the install root and each active extension, in listing order."""
    root = install_dir()
    return [(root, os.path.join(root, "scripts")),
            *((ext.path, os.path.join(ext.path, "scripts")) for ext in active_extensions())]
