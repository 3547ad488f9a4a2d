"""A1111's ``modules.scripts``: the ``Script`` base class extensions subclass, and the loaded scripts.

This is the start of the scripts layer: files are discovered and imported at
start-up (isolated per file) and their classes kept in ``scripts_data``.  The
per-tab ``ScriptRunner`` with every processing hook comes with the scripts and
extensions issue.
"""
from __future__ import annotations

import os
from typing import Any

from modules.runtime.script_loading import ScriptClassData  # noqa: F401  (A1111 name)

AlwaysVisible = object()
"""Returned by :meth:`Script.show` for a script whose UI is always shown (not in the Script dropdown)."""

scripts_data: list[ScriptClassData] = []
"""Every ``Script`` subclass found at start-up, in load order (A1111 name)."""


class Script:
    """Base class of a script file's class (``scripts/*.py`` in the install root or an extension).

    Override :meth:`title`, :meth:`show` and :meth:`ui`; a selectable script overrides
    :meth:`run`, an always-visible one the processing hooks.
    """

    name: str | None = None
    section: str | None = None
    filename: str | None = None
    args_from: int | None = None
    args_to: int | None = None
    alwayson = False
    is_txt2img = False
    is_img2img = False
    tabname: str | None = None
    group: Any = None
    create_group = True
    infotext_fields: list | None = None
    paste_field_names: list | None = None
    api_info: Any = None
    setup_for_ui_only = False

    def title(self) -> str:
        """The name shown in the Script dropdown (required)."""
        raise NotImplementedError()

    def show(self, is_img2img: bool) -> Any:
        """``False`` (hidden), ``True`` (in the Script dropdown) or :data:`AlwaysVisible`."""
        return True

    def ui(self, is_img2img: bool) -> list:
        """Build the script's UI; the components' values become the script's arguments."""
        return []

    def run(self, p: Any, *args: Any) -> Any:
        """Run a selected script on processing object ``p``; returns a ``Processed``."""
        return None

    def describe(self) -> str:
        return ""

    def elem_id(self, item_id: str) -> str:
        """A1111's element id: ``script_<tab>_<title>_<item>`` with spaces and punctuation normalised."""
        need_tabname = self.show(True) == self.show(False)
        tabkind = "img2img" if self.is_img2img else "txt2img"
        tabname = f"{tabkind}_" if need_tabname else ""
        title = "".join(c if c.isalnum() else "_" for c in self.title().lower()).strip("_")
        return f"script_{tabname}{title}_{item_id}"


def basedir() -> str:
    """The folder of the extension (or the install root) whose script is being loaded."""
    from modules.paths_internal import script_path

    return script_path


def script_files_dirs() -> list[tuple[str, str]]:
    """``(basedir, scripts dir)`` of the install root and each active extension, in load order."""
    from modules import shared

    dirs = [(shared.paths.install_dir, os.path.join(shared.paths.install_dir, "scripts"))]
    for ext in shared.extensions or []:
        if ext.enabled:
            dirs.append((ext.path, os.path.join(ext.path, "scripts")))
    return dirs
