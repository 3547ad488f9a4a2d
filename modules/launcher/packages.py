"""Installed-package queries and pip calls.

Queries go through ``importlib.metadata`` / ``importlib.util.find_spec`` so that
nothing is imported to answer them.  Every pip call goes through :func:`run_pip`,
which is a no-op with ``--skip-install`` and adds ``--prefer-binary`` plus
``--index-url`` (env ``INDEX_URL``) as A1111 does.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shlex
import sys
from typing import Sequence

from modules.core.commands import Runner, run
from modules.launcher.settings import LaunchSettings


def normalize_name(name: str) -> str:
    """A distribution name in PEP 503 normal form (``Open_Clip.Torch`` -> ``open-clip-torch``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(name: str) -> str | None:
    """The installed version of distribution ``name`` (any spelling), or ``None``."""
    normal = normalize_name(name)
    for candidate in dict.fromkeys((name, normal, normal.replace("-", "_"))):
        try:
            return importlib.metadata.version(candidate)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def is_installed(package: str) -> bool:
    """Whether a distribution or an importable top-level module called ``package`` exists."""
    if installed_version(package) is not None:
        return True
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def pip_command(args: Sequence[str], settings: LaunchSettings) -> list[str]:
    """``python -m pip <args> --prefer-binary [--index-url URL]``."""
    command = [settings.python, "-m", "pip", *args, "--prefer-binary"]
    if settings.index_url:
        command += ["--index-url", settings.index_url]
    return command


def run_pip(
    command: "str | Sequence[str]",
    desc: str | None = None,
    *,
    settings: LaunchSettings | None = None,
    skip_install: bool = False,
    runner: Runner | None = None,
    live: bool | None = None,
) -> str:
    """Run pip with ``command`` (``"install x"`` or ``["install", "x"]``); returns pip's output.

    Prints ``Installing <desc>``; raises :class:`~modules.core.commands.CommandError`
    with ``Couldn't install <desc>`` on failure.  ``skip_install`` makes it a no-op.
    """
    if skip_install:
        return ""
    settings = settings or LaunchSettings.from_env()
    args = shlex.split(command) if isinstance(command, str) else list(command)
    return (runner or run)(pip_command(args, settings), desc=f"Installing {desc}", errdesc=f"Couldn't install {desc}", live=live)


def torch_install_command(settings: LaunchSettings) -> "list[str] | str":
    """``python -m <TORCH_COMMAND>``; a command chaining several steps (``;``/``&&``) goes through the shell."""
    if any(sep in settings.torch_command for sep in (";", "&&", "||", "|")):
        return f'"{settings.python}" -m {settings.torch_command}'
    return [settings.python, "-m", *shlex.split(settings.torch_command)]


def python_version_text() -> str:
    """``sys.version`` on one line (what ``Python ...`` prints)."""
    return sys.version.replace("\n", " ")
