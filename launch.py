"""Start the web UI: prepare the environment, then run ``webui.main``.

Run as ``python launch.py [flags]`` (``webui.sh`` does).  Extensions' ``install.py``
files ``import launch`` for A1111's helpers (``launch.run_pip``,
``launch.is_installed``, ``launch.args`` ...), re-exported here from
:mod:`modules.launch_utils`.  Nothing happens at import.
"""
from __future__ import annotations

import sys
from typing import Any, Sequence

from modules.launch_utils import (  # A1111's names for install.py files
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
)

__all__ = [
    "check_run_python", "commit_hash", "dir_repos", "dump_sysinfo", "git_clone", "git_pull_recursive", "git_tag",
    "is_installed", "list_extensions", "main", "prepare_environment", "repo_dir", "requirements_met", "run",
    "run_extension_installer", "run_pip",
]


def __getattr__(name: str) -> Any:
    # ``launch.args`` / ``launch.python`` ... are computed on first use, not at import
    import modules.launch_utils

    return getattr(modules.launch_utils, name)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) plus ``COMMANDLINE_ARGS`` and launch."""
    from modules.launcher.main import launch

    return launch(argv)


if __name__ == "__main__":
    sys.exit(main())
