"""The git operations of extension management: run git in an extension's folder, update it to a commit.

Shared by :mod:`modules.runtime.extensions_install` (updates) and
:mod:`modules.runtime.config_states` (restoring a saved commit), so neither imports the other.
"""
from __future__ import annotations

import re
import subprocess

from modules.core.git import git_env
from modules.runtime.extension_details import git_details


class ExtensionInstallError(RuntimeError):
    """The install cannot go ahead (bad URL, folder taken, git failure); the message says why."""


def run_git(args: list[str], cwd: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``git <args>`` in ``cwd`` (never prompting for credentials); the completed process, whatever its status."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, encoding="utf8",
                          errors="replace", env=git_env(), timeout=timeout)


def git(args: list[str], cwd: str | None = None, timeout: float = 300) -> str:
    """The stripped stdout of ``git <args>``; raises :class:`ExtensionInstallError` when git fails."""
    result = run_git(args, cwd=cwd, timeout=timeout)
    if result.returncode != 0:
        raise ExtensionInstallError(f"git {args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def branch(path: str) -> str:
    """The branch checked out in the extension folder ``path`` (empty when detached or not a clone)."""
    return git_details(path).branch


def fetch_and_reset_hard(path: str, commit: str | None = None) -> str:
    """Fetch, then ``git reset --hard`` to ``commit`` (default ``origin/<branch>``); returns the new ``HEAD``."""
    if commit is not None and not re.fullmatch(r"[0-9a-fA-F]{4,64}", commit):
        raise ExtensionInstallError(f"not a commit hash: {commit!r}")
    current_branch = branch(path)
    target = commit or (f"origin/{current_branch}" if current_branch else "origin/HEAD")
    try:
        git(["fetch", "--all", "--quiet"], cwd=path, timeout=120)
    except (ExtensionInstallError, subprocess.TimeoutExpired):
        if commit is None:
            raise
        # restoring a saved commit works offline when the clone already has it
    git(["reset", "--hard", target], cwd=path, timeout=60)
    return git(["rev-parse", "HEAD"], cwd=path, timeout=10)
