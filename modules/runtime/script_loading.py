"""Finding and importing script files: ``scripts/*.py`` of the install root and of each active extension.

Every import is isolated: a file that fails is reported with its path and the
others still load (STYLE rule 7).  The ``Script`` classes found are returned in
load order; building the per-tab runners comes with the scripts layer.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from types import ModuleType
from typing import Iterable


@dataclass(frozen=True)
class ScriptFile:
    """A script file to load: its extension folder (or the install root) and path."""

    basedir: str
    filename: str
    path: str


@dataclass
class ScriptClassData:
    """A class found in a script file (A1111's ``scripts.ScriptClassData``)."""

    script_class: type
    path: str
    basedir: str
    module: ModuleType


@dataclass
class LoadedScripts:
    """What :func:`load_scripts` found: modules, classes, and the files that failed."""

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
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def load_scripts(files: Iterable[ScriptFile], base_classes: tuple[type, ...]) -> LoadedScripts:
    """Import every file and collect subclasses of ``base_classes`` defined or imported there.

    A1111 names each module after its file's base name; a counter keeps two
    extensions' ``scripts/main.py`` apart in ``sys.modules``.
    """
    result = LoadedScripts([], [], [])
    used_names: set[str] = set()
    for f in files:
        module_name = os.path.basename(f.path)
        if module_name in used_names or module_name in sys.modules:
            module_name = f"{module_name}#{len(used_names)}"
        used_names.add(module_name)
        try:
            module = _import_file(f.path, module_name)
        except Exception:
            trace = traceback.format_exc()
            result.errors.append((f.path, trace))
            print(f"*** Error loading script: {f.path}\n{trace}", file=sys.stderr, flush=True)
            continue
        result.modules.append(module)
        for obj in list(vars(module).values()):
            if isinstance(obj, type) and obj not in base_classes and issubclass(obj, base_classes):
                result.classes.append(ScriptClassData(obj, f.path, f.basedir, module))
    return result
