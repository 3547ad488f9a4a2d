"""A1111's ``launch_utils`` functions for extensions' ``install.py`` files, with A1111's signatures.

Thin wrappers over the launcher's modules; :mod:`modules.launch_utils` (and ``launch``) re-export
them. ``args``, ``python``, ``git``, ``index_url`` and ``default_command_live`` are computed on
first access (:func:`live_value`): nothing is parsed at import.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import Any, Mapping

from modules.core.cmd_args import build_parser, full_argv
from modules.core.extensions import list_extensions as _list_extensions
from modules.core.paths import INSTALL_DIR, resolve_path_flags
from modules.core import commands as _commands
from modules.core import git as _git
from modules.launcher import repositories as _repositories
from modules.launcher.config_file import read_config
from modules.launcher.context import LaunchContext
from modules.core.extension_installs import run_extension_installer as _run_extension_installer
from modules.launcher.packages import is_installed  # noqa: F401  (A1111 name)
from modules.launcher.packages import run_pip as _run_pip
from modules.launcher.prepare import prepare_environment as _prepare_environment
from modules.launcher.requirements import requirements_met  # noqa: F401  (A1111 name)
from modules.launcher.settings import LaunchSettings
from modules.launcher.sysinfo import write_sysinfo

script_path = INSTALL_DIR
dir_repos = _repositories.DIR_REPOS


@functools.lru_cache(maxsize=None)
def cached_args() -> argparse.Namespace:
    """This process's flags (``sys.argv`` plus ``COMMANDLINE_ARGS``), parsed once; unknown flags are ignored."""
    namespace, _unknown = build_parser().parse_known_args(full_argv())
    return namespace


def live_value(name: str) -> Any:
    """A1111's module-level values computed on access: ``args``, ``python``, ``git``, ``index_url``,
    ``default_command_live``; ``AttributeError`` for any other name."""
    if name == "args":
        return cached_args()
    if name == "python":
        return sys.executable
    if name == "git":
        return LaunchSettings.from_env().git
    if name == "index_url":
        return LaunchSettings.from_env().index_url
    if name == "default_command_live":
        return os.environ.get("WEBUI_LAUNCH_LIVE_OUTPUT") == "1"
    raise AttributeError(f"module 'modules.launch_utils' has no attribute {name!r}")


def run(command: Any, desc: str | None = None, errdesc: str | None = None, custom_env: Mapping[str, str] | None = None,
        live: bool | None = None) -> str:
    """Run a command (a string goes through the shell); raises ``RuntimeError`` on failure."""
    return _commands.run(command, desc, errdesc, custom_env, live)


def run_pip(command: str, desc: str | None = None, live: bool | None = None) -> str:
    """``python -m pip <command> --prefer-binary``; a no-op with ``--skip-install``."""
    return _run_pip(command, desc, skip_install=cached_args().skip_install, live=live)


def check_run_python(code: str) -> bool:
    """Whether ``python -c code`` succeeds."""
    return _commands.check_run_python(code)


def repo_dir(name: str) -> str:
    """``<install>/repositories/<name>``."""
    return _repositories.repo_dir(name)


def git_clone(url: str, dir: str, name: str, commithash: str | None = None) -> None:  # noqa: A002  (A1111's name)
    """Clone ``url`` into ``dir`` pinned at ``commithash`` (or re-pin an existing checkout)."""
    _git.git_clone(url, dir, name, commithash, git=LaunchSettings.from_env().git)


def git_pull_recursive(dir: str) -> None:  # noqa: A002  (A1111's name)
    """``git pull --autostash`` in every checkout under ``dir``."""
    _git.git_pull_recursive(dir, git=LaunchSettings.from_env().git)


def commit_hash() -> str:
    """This checkout's commit, or ``<none>``."""
    return _git.commit_hash(INSTALL_DIR)


def git_tag() -> str:
    """``git describe --tags`` of this checkout, or a fallback."""
    return _git.git_tag(INSTALL_DIR)


def run_extension_installer(extension_dir: str) -> None:
    """Run one extension's ``install.py`` (failures are printed, not raised)."""
    _run_extension_installer(extension_dir)


def list_extensions(settings_file: str) -> list[str]:
    """Names of the enabled user extensions, as A1111's launcher lists them."""
    paths = resolve_path_flags(build_parser().parse_known_args(full_argv())[0])
    return [e.name for e in _list_extensions(paths, read_config(settings_file), cached_args()) if e.enabled and not e.is_builtin]


def prepare_environment() -> None:
    """Run every launch-time step for this process's arguments."""
    _prepare_environment(LaunchContext.create())


def dump_sysinfo() -> str:
    """Write the sysinfo file; returns its path."""
    ctx = LaunchContext.create()
    return write_sysinfo(ctx.argv, ctx.paths, ctx.args)
