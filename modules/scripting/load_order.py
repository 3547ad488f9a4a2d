"""In which order script files load: the install root's ``scripts/`` first, then each active extension's
(built-ins, then user extensions, each by name), rearranged by ``metadata.ini`` (A1111's ``scripts.list_scripts``).

Scripts are named ``<file>`` in the install root and ``[builtin/]<extension>/<file>``
in extensions.  An extension's ``[scripts/<file>]`` (or ``[scripts]``) section may say
``After`` / ``Before`` (load after / before the named scripts or all scripts of the
named extensions) and ``Requires`` (reported when missing).  ``[Extension] Requires``
also orders the extension after the ones it needs and reports those missing or
disabled.  Otherwise the listing order stays.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable

from modules.core.extensions import ScriptFile, requirement_problems
from modules.scripting.reporting import report
from modules.scripting.toposort import topological_sort


@dataclass
class ScriptWithDependencies:
    """A script file with what its ``metadata.ini`` says about its order (A1111 name)."""

    script_canonical_name: str
    file: ScriptFile
    requires: list[str] = field(default_factory=list)
    load_before: list[str] = field(default_factory=list)
    load_after: list[str] = field(default_factory=list)


def _root_scripts(install_dir: str, scriptdirname: str, extension: str) -> list[ScriptFile]:
    folder = os.path.join(install_dir, scriptdirname)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [ScriptFile(install_dir, n, os.path.join(folder, n)) for n in names
            if os.path.isfile(os.path.join(folder, n)) and os.path.splitext(n)[1].lower() == extension]


def list_scripts(scriptdirname: str, extension: str, *, install_dir: str, extensions: Iterable[Any],
                 include_extensions: bool = True) -> list[ScriptFile]:
    """The ``*<extension>`` files of ``<root>/<scriptdirname>`` and of each extension in ``extensions`` (the
    active ones), in load order."""
    active = list(extensions) if include_extensions else []
    by_extension = {ext.canonical_name: ext for ext in active}
    extension_scripts: dict[str, list[ScriptWithDependencies]] = {ext.canonical_name: [] for ext in active}
    scripts: dict[str, ScriptWithDependencies] = {}

    for f in _root_scripts(install_dir, scriptdirname, extension):
        scripts[f.filename] = ScriptWithDependencies(f.filename, f)

    for ext in active:
        metadata = ext.metadata
        for f in ext.list_files(scriptdirname, extension):
            name = f"{'builtin/' if ext.is_builtin else ''}{ext.canonical_name}/{f.filename}"
            section = f"{scriptdirname}/{f.filename}"
            script = ScriptWithDependencies(name, f)
            if metadata is not None:
                known = by_extension.keys()
                script.requires = metadata.get_script_requirements("Requires", section, scriptdirname, known)
                script.load_before = metadata.get_script_requirements("Before", section, scriptdirname, known)
                script.load_after = metadata.get_script_requirements("After", section, scriptdirname, known)
                # an extension's own requirements come first, as if each of its scripts said After
                script.load_after += [r for r in metadata.requires if r in by_extension and r != ext.canonical_name]
            scripts[name] = script
            extension_scripts[ext.canonical_name].append(script)

    for name, script in scripts.items():
        # Before is the other script's After
        for target in script.load_before:
            other = scripts.get(target)
            if other is not None:
                other.load_after.append(name)
            for other in extension_scripts.get(target, []):
                other.load_after.append(name)
        # After naming an extension means after each of its scripts
        for target in list(script.load_after):
            if target not in scripts and target in extension_scripts:
                script.load_after.remove(target)
                script.load_after.extend(s.script_canonical_name for s in extension_scripts[target])

    dependencies = {}
    for name, script in scripts.items():
        for required in script.requires:
            if required not in scripts and required not in by_extension:
                report(f'Script "{name}" requires "{required}" to be loaded, but it is not.')
        dependencies[name] = script.load_after

    order = topological_sort(dependencies, on_cycle=lambda names: report(
        f"Script load order has a cycle: {' -> '.join(names)}; loading in listing order there"))
    return [scripts[name].file for name in order]


def report_extension_requirements(extensions: Iterable[Any]) -> None:
    """Report every ``[Extension] Requires`` entry of an enabled extension that is missing or disabled."""
    for problem in requirement_problems(extensions):
        report(problem)
