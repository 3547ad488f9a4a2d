"""Shared helpers for the launcher tests: a recording fake runner and a context factory."""
from __future__ import annotations

import os
from typing import Callable, Sequence

import pytest

from modules.core.commands import CommandError, command_text
from modules.launcher.context import LaunchContext


class FakeRunner:
    """Records every command; fails the ones ``fail`` selects; answers with ``output``."""

    def __init__(self, fail: Callable[[list[str]], bool] | None = None, output: Callable[[list[str]], str] | None = None):
        self.calls: list[list[str] | str] = []
        self.kwargs: list[dict] = []
        self._fail = fail or (lambda command: False)
        self._output = output or (lambda command: "")

    def __call__(self, command, desc=None, errdesc=None, custom_env=None, live=None, cwd=None, timeout=None):
        listed = list(command) if not isinstance(command, str) else command
        self.calls.append(listed)
        self.kwargs.append(dict(desc=desc, errdesc=errdesc, custom_env=custom_env, live=live, cwd=cwd))
        if self._fail(listed):
            raise CommandError(f"{errdesc or 'Error running command'}.\nCommand: {command_text(command)}", command_text(command), 1)
        return self._output(listed)

    def commands_with(self, word: str) -> list:
        """The recorded commands that contain ``word`` as an argument."""
        return [c for c in self.calls if (word in c if isinstance(c, list) else word in c.split())]


def has_torch(name: str):
    """A ``find_spec`` that finds everything."""
    return object()


def no_torch(name: str):
    """A ``find_spec`` that finds nothing."""
    return None


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    # the launcher reads these; the developer's own settings must not leak into the tests
    for name in ("SD_WEBUI_CACHE_DIR", "COMMANDLINE_ARGS", "SD_WEBUI_ARGS_APPENDED", "INDEX_URL", "TORCH_COMMAND",
                 "REQS_FILE", "SD_WEBUI_CLONE_REPOSITORIES", "IGNORE_CMD_ARGS_ERRORS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_ctx(tmp_path):
    """Build a :class:`LaunchContext` whose install root and data dir live in ``tmp_path``."""
    install = tmp_path / "install"
    data = tmp_path / "data"
    install.mkdir()
    data.mkdir()

    def make(argv: Sequence[str] = (), environ: dict | None = None, runner=None, find_spec=has_torch) -> LaunchContext:
        env = {"PATH": os.environ.get("PATH", "")}
        env.update(environ or {})
        return LaunchContext.create([*argv, "--data-dir", str(data)], environ=env, install_dir=str(install),
                                    runner=runner or FakeRunner(), find_spec=find_spec)

    make.install = install
    make.data = data
    return make
