"""Importing script files: ``scripts/*.py`` of the install root and of each active extension.

Every import is isolated: a file that fails is reported with its path and the
others still load (STYLE rule 7).  Which files load, and in which order, is
:mod:`modules.scripting.load_order`'s job; this module only imports them and
collects the classes they define.  The runtime's start-up step
(:mod:`modules.runtime.script_loading`) builds the runners from what it found.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, ContextManager, Iterable

from modules.core.extensions import ScriptFile  # noqa: F401  (A1111's scripts.ScriptFile, re-exported)
from modules.scripting.reporting import report


@dataclass
class ScriptClassData:
    """A class found in a script file (A1111's ``scripts.ScriptClassData``)."""

    script_class: type
    path: str
    basedir: str
    module: ModuleType


@dataclass
class LoadedScripts:
    """What :func:`import_scripts` found: modules, classes, and the files that failed."""

    modules: list[ModuleType]
    classes: list[ScriptClassData]
    errors: list[tuple[str, str]]


def list_script_files(script_dirs: Iterable[tuple[str, str]]) -> list[ScriptFile]:
    """``*.py`` files of each ``(basedir, scripts_dir)`` pair, sorted by name within a folder."""
    files = []
    for basedir, folder in script_dirs:
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if name.endswith(".py") and os.path.isfile(path):
                files.append(ScriptFile(basedir, name, path))
    return files


def _import_file(path: str, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # registered before it runs, so dataclasses and pickling inside the script can find their module
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def load_module(path: str) -> ModuleType:
    """Import one file as a fresh module named after its base name (A1111's ``script_loading.load_module``)."""
    name = os.path.basename(path)
    if name in sys.modules:
        name = f"{name}#{id(path)}"
    return _import_file(path, name)


def forget_modules(modules: Iterable[ModuleType]) -> None:
    """Drop previously loaded script modules from ``sys.modules`` (before scripts are loaded again)."""
    for module in modules:
        if sys.modules.get(module.__name__) is module:
            del sys.modules[module.__name__]


FileContext = Callable[[ScriptFile], ContextManager[None]]
"""Wraps the import of one file (the scripting layer sets the current script file, ``sys.path`` and timing)."""


def import_scripts(files: Iterable[ScriptFile], base_classes: tuple[type, ...], *,
                 exclude: Iterable[type] = (), file_context: FileContext | None = None) -> LoadedScripts:
    """Import every file and collect subclasses of ``base_classes`` defined or imported there.

    ``exclude`` lists classes never collected (the base classes themselves always are
    left out).  A1111 names each module after its file's base name; a counter keeps
    two extensions' ``scripts/main.py`` apart in ``sys.modules``.
    """
    result = LoadedScripts([], [], [])
    skipped = set(base_classes) | set(exclude)
    used_names: set[str] = set()
    for f in files:
        module_name = os.path.basename(f.path)
        if module_name in used_names or module_name in sys.modules:
            module_name = f"{module_name}#{len(used_names)}"
        used_names.add(module_name)
        context = file_context(f) if file_context is not None else contextlib.nullcontext()
        try:
            with context:
                module = _import_file(f.path, module_name)
        except Exception:
            result.errors.append((f.path, traceback.format_exc()))
            report(f"Error loading script: {f.path}", exc_info=True)
            continue
        result.modules.append(module)
        for obj in list(vars(module).values()):
            if isinstance(obj, type) and obj not in skipped and issubclass(obj, base_classes):
                result.classes.append(ScriptClassData(obj, f.path, f.basedir, module))
    return result
