"""Is a requirements file satisfied by what is installed?

Each line is read on its own: ``name==1.0``, ``name>=1,<2``, a bare ``name``,
``name[extra]==1`` (only the package itself is checked, not the extra's
dependencies), ``name; marker`` (skipped when the marker is false),
``name @ url`` (present is enough), comments and blank lines.  ``-r file``
includes are followed; other pip options (``--index-url`` ...) are ignored.  A line
that cannot be checked (``-e``, a bare URL) counts as unmet, so pip decides.

The satisfied case reads package metadata only: no subprocess, no torch import.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Callable, Iterator

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from modules.core.commands import Runner
from modules.launcher.packages import installed_version, normalize_name, run_pip
from modules.launcher.settings import LaunchSettings

VersionLookup = Callable[[str], "str | None"]

_IGNORED_OPTIONS = (
    "-i", "--index-url", "--extra-index-url", "--no-index", "-f", "--find-links", "--trusted-host",
    "--prefer-binary", "--pre", "--no-binary", "--only-binary", "-c", "--constraint", "--use-feature",
    "--require-hashes",
)


@dataclass(frozen=True)
class RequirementLine:
    """One meaningful line of a requirements file."""

    file: str
    number: int
    text: str


def _strip_comment(line: str) -> str:
    # pip treats '#' as a comment only at the start or after whitespace (URLs may hold '#')
    return re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()


def iter_requirement_lines(path: str, _seen: frozenset[str] = frozenset()) -> Iterator[RequirementLine]:
    """The requirement lines of ``path`` and of files it includes with ``-r``."""
    path = os.path.abspath(path)
    if path in _seen:
        return
    with open(path, encoding="utf8") as file:
        raw_lines = file.read().splitlines()

    logical: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(raw_lines, 1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        logical.append((start, pending + raw))
        pending = ""
    if pending:
        logical.append((start, pending))

    for number, raw in logical:
        text = _strip_comment(raw)
        if not text:
            continue
        include = re.match(r"^(?:-r|--requirement)(?:\s+|=)(.+)$", text)
        if include:
            nested = include.group(1).strip()
            yield from iter_requirement_lines(os.path.join(os.path.dirname(path), nested), _seen | {path})
            continue
        if text.startswith("-") and text.split("=", 1)[0].split()[0] in _IGNORED_OPTIONS:
            continue
        yield RequirementLine(path, number, text)


def check_line(line: RequirementLine, version_of: VersionLookup = installed_version) -> str | None:
    """``None`` when the line is satisfied, else a short reason."""
    try:
        req = Requirement(line.text)
    except InvalidRequirement:
        return f"cannot check {line.text!r} ({os.path.basename(line.file)}:{line.number})"
    if req.marker is not None:
        try:
            if not req.marker.evaluate():
                return None
        except UndefinedEnvironmentName:
            return f"cannot evaluate the marker of {line.text!r}"
    installed = version_of(req.name)
    if installed is None:
        return f"{req.name} is not installed"
    if req.url or not req.specifier:
        return None
    try:
        ok = req.specifier.contains(Version(installed), prereleases=True)
    except InvalidVersion:
        ok = False
    return None if ok else f"{req.name} {installed} is installed, {req.specifier} is required"


def unmet_requirements(path: str, version_of: VersionLookup = installed_version) -> list[str]:
    """Why ``path`` is not satisfied (empty when it is)."""
    reasons = []
    for line in iter_requirement_lines(path):
        reason = check_line(line, version_of)
        if reason:
            reasons.append(reason)
    return reasons


def requirements_met(path: str, version_of: VersionLookup = installed_version) -> bool:
    """Whether every requirement in ``path`` is installed at an accepted version."""
    return not unmet_requirements(path, version_of)


def install_requirements(
    path: str | None,
    *,
    settings: LaunchSettings,
    skip_install: bool = False,
    runner: Runner | None = None,
    version_of: VersionLookup = installed_version,
) -> bool:
    """Run ``pip install -r <path> --prefer-binary`` when something is missing; True when pip ran."""
    if skip_install:
        return False
    if path is None or not os.path.isfile(path):
        print(f"Requirements file not found: {path or 'requirements_versions.txt / requirements.txt'}; skipping the requirements check.")
        return False
    reasons = unmet_requirements(path, version_of)
    if not reasons:
        return False
    shown = "; ".join(reasons[:5]) + (f"; and {len(reasons) - 5} more" if len(reasons) > 5 else "")
    print(f"Requirements not met ({shown})")
    run_pip(["install", "-r", path], "requirements", settings=settings, runner=runner)
    return True


__all__ = [
    "RequirementLine", "check_line", "install_requirements", "iter_requirement_lines",
    "normalize_name", "requirements_met", "unmet_requirements",
]
