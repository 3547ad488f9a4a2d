"""A1111's ``modules.launch_utils`` import path, for extensions' ``install.py`` files.

The functions live in :mod:`modules.launcher.extension_api`. ``args``, ``python``, ``git``,
``index_url`` and ``default_command_live`` are computed on first access (nothing is parsed at import).
"""
from __future__ import annotations

from typing import Any

from modules.launcher import extension_api as _api
from modules.launcher.extension_api import cached_args as _args  # noqa: F401  (tests clear its cache)
from modules.launcher.extension_api import live_value as _live_value
from modules.launcher.extension_api import (  # noqa: F401  (A1111 names)
    check_run_python,
    commit_hash,
    dir_repos,
    dump_sysinfo,
    git_clone,
    git_pull_recursive,
    git_tag,
    is_installed,
    list_extensions,
    prepare_environment,
    repo_dir,
    requirements_met,
    run,
    run_extension_installer,
    run_pip,
    script_path,
)

# ``args``, ``python``, ``git``, ``index_url`` and ``default_command_live`` are served by ``__getattr__``
__all__ = [
    "check_run_python", "commit_hash", "dir_repos", "dump_sysinfo", "git_clone", "git_pull_recursive", "git_tag",
    "is_installed", "list_extensions", "prepare_environment", "repo_dir", "requirements_met", "run",
    "run_extension_installer", "run_pip", "script_path",
]


def __getattr__(name: str) -> Any:
    if name not in ("args", "python", "git", "index_url", "default_command_live") and hasattr(_api, name):
        return getattr(_api, name)  # the other names this module had before its code moved
    return _live_value(name)
