"""Which extensions exist and which are enabled (no torch, no gradio).

Extensions are the folders of ``extensions-builtin/`` (built-ins) and then of the
data dir's ``extensions/``, each sorted by name.  One is disabled when its name is
in setting ``disabled_extensions``, or by setting ``disable_all_extensions``
(``none`` / ``extra`` = only built-ins stay enabled / ``all``) and the flags
``--disable-extra-extensions`` (like ``extra``) and ``--disable-all-extensions``
(like ``all``).  Disabled extensions are still listed, with ``enabled=False``,
so the Extensions tab can show them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from modules.core.paths import DataPaths


@dataclass
class Extension:
    """An extension folder (A1111's ``modules.extensions.Extension``, the parts known without git)."""

    name: str
    path: str
    is_builtin: bool = False
    enabled: bool = True

    @property
    def canonical_name(self) -> str:
        """The name as A1111 compares it (lower case)."""
        return self.name.lower()

    @property
    def scripts_dir(self) -> str:
        """``<extension>/scripts``: the ``Script`` files it ships."""
        return os.path.join(self.path, "scripts")

    @property
    def install_script(self) -> str:
        """``<extension>/install.py``: run by the launcher before start."""
        return os.path.join(self.path, "install.py")

    @property
    def preload_script(self) -> str:
        """``<extension>/preload.py``: adds command-line flags through ``preload(parser)``."""
        return os.path.join(self.path, "preload.py")


def _flag(cmd_opts: Any, name: str) -> bool:
    return bool(getattr(cmd_opts, name, False)) if cmd_opts is not None else False


def disable_mode(settings: Mapping[str, Any], cmd_opts: Any = None) -> str:
    """``none``, ``extra`` (only built-ins enabled) or ``all``, from flags first, then the setting."""
    if _flag(cmd_opts, "disable_all_extensions"):
        return "all"
    if _flag(cmd_opts, "disable_extra_extensions"):
        return "extra"
    mode = settings.get("disable_all_extensions", "none")
    return mode if mode in ("none", "extra", "all") else "none"


def disabled_reason(settings: Mapping[str, Any], cmd_opts: Any = None) -> str | None:
    """A message to print when extensions are disabled globally, else ``None``."""
    if _flag(cmd_opts, "disable_all_extensions"):
        return '*** "--disable-all-extensions" arg was used, will not load any extensions ***'
    if _flag(cmd_opts, "disable_extra_extensions"):
        return '*** "--disable-extra-extensions" arg was used, will only load built-in extensions ***'
    mode = disable_mode(settings, cmd_opts)
    if mode == "all":
        return '*** "Disable all extensions" option was set, will not load any extensions ***'
    if mode == "extra":
        return '*** "Disable all extensions" option was set, will only load built-in extensions ***'
    return None


def _folders(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    # hidden folders and caches are not extensions
    return [n for n in names if not n.startswith((".", "__")) and os.path.isdir(os.path.join(directory, n))]


def list_extensions(paths: DataPaths, settings: Mapping[str, Any] | None = None, cmd_opts: Any = None) -> list[Extension]:
    """All extensions, built-ins first, each marked enabled or not (see the module docstring)."""
    settings = settings or {}
    disabled = set(settings.get("disabled_extensions") or [])
    mode = disable_mode(settings, cmd_opts)
    result = []
    for directory, is_builtin in ((paths.extensions_builtin_dir, True), (paths.extensions_dir, False)):
        for name in _folders(directory):
            enabled = name not in disabled and mode != "all" and (is_builtin or mode != "extra")
            result.append(Extension(name=name, path=os.path.join(directory, name), is_builtin=is_builtin, enabled=enabled))
    return result


def active_extensions(paths: DataPaths, settings: Mapping[str, Any] | None = None, cmd_opts: Any = None) -> list[Extension]:
    """The enabled extensions, in load order."""
    return [ext for ext in list_extensions(paths, settings, cmd_opts) if ext.enabled]
