"""Environment overrides read by the launcher (A1111's module globals of ``launch_utils``).

They are read once per launch into a frozen :class:`LaunchSettings`, never at import,
so tests can build one from a plain dict.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Mapping

from modules.core.paths import INSTALL_DIR

DEFAULT_TORCH_COMMAND = "pip install torch==2.14.1 torchvision==0.29.1"
"""This project's torch pin (the wheels install from the local disk on the build machine)."""

DEFAULT_REQS_FILE = "requirements_versions.txt"
FALLBACK_REQS_FILE = "requirements.txt"

DEFAULT_XFORMERS_PACKAGE = "xformers"
"""Unpinned: pip picks the build that matches the installed torch (installed with ``--no-deps``)."""


@dataclass(frozen=True)
class LaunchSettings:
    """The launcher's knobs, from environment variables with A1111's names."""

    python: str
    git: str
    index_url: str
    torch_command: str
    requirements_file: str | None
    xformers_package: str
    live_output: bool

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, install_dir: str = INSTALL_DIR) -> "LaunchSettings":
        """Read ``GIT``, ``INDEX_URL``, ``TORCH_COMMAND``, ``REQS_FILE``, ``XFORMERS_PACKAGE``, ``WEBUI_LAUNCH_LIVE_OUTPUT``."""
        environ = os.environ if environ is None else environ
        return cls(
            python=sys.executable,
            git=environ.get("GIT") or "git",
            index_url=environ.get("INDEX_URL", ""),
            torch_command=environ.get("TORCH_COMMAND") or DEFAULT_TORCH_COMMAND,
            requirements_file=resolve_requirements_file(environ.get("REQS_FILE"), install_dir),
            xformers_package=environ.get("XFORMERS_PACKAGE") or DEFAULT_XFORMERS_PACKAGE,
            live_output=environ.get("WEBUI_LAUNCH_LIVE_OUTPUT") == "1",
        )


def resolve_requirements_file(requested: str | None, install_dir: str = INSTALL_DIR) -> str | None:
    """The requirements file to check, or ``None`` when there is none.

    A relative ``REQS_FILE`` is tried in the current folder, then in the install
    root (as A1111).  Without ``REQS_FILE``, ``requirements_versions.txt`` is
    preferred and ``requirements.txt`` is the fallback.
    """
    candidates = [requested] if requested else [DEFAULT_REQS_FILE, FALLBACK_REQS_FILE]
    for name in candidates:
        for path in (name, os.path.join(install_dir, name)):
            if os.path.isfile(path):
                return os.path.abspath(path)
    if requested:
        return os.path.join(install_dir, requested) if not os.path.isabs(requested) else requested
    return None
