"""Running sub-commands the way A1111's ``launch_utils.run`` does.

A command is a list of arguments (run without a shell); a string is accepted for
A1111 compatibility (extensions' ``install.py`` call ``launch.run("...")``) and is
run through the shell.  Output is captured unless ``live`` is true (or env
``WEBUI_LAUNCH_LIVE_OUTPUT=1``); a non-zero exit raises :class:`CommandError`
carrying the captured output.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from typing import Mapping, Protocol, Sequence

class LaunchError(RuntimeError):
    """A launcher step failed in a way that stops the start (printed without a traceback)."""


class CommandError(LaunchError):
    """A sub-command exited with a non-zero status."""

    def __init__(self, message: str, command: str, returncode: int, stdout: str = "", stderr: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class Runner(Protocol):
    """What the launcher calls to run a command; tests inject a fake with this signature."""

    def __call__(
        self,
        command: "Sequence[str] | str",
        desc: str | None = None,
        errdesc: str | None = None,
        custom_env: Mapping[str, str] | None = None,
        live: bool | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> str: ...


def command_text(command: "Sequence[str] | str") -> str:
    """The command as a user would type it (for messages)."""
    return command if isinstance(command, str) else shlex.join(list(command))


def _live_default() -> bool:
    return os.environ.get("WEBUI_LAUNCH_LIVE_OUTPUT") == "1"


def run(
    command: "Sequence[str] | str",
    desc: str | None = None,
    errdesc: str | None = None,
    custom_env: Mapping[str, str] | None = None,
    live: bool | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
) -> str:
    """Run ``command``; print ``desc`` first; return its stdout; raise :class:`CommandError` on failure."""
    if desc:
        print(desc, flush=True)
    live = _live_default() if live is None else live
    shell = isinstance(command, str)
    env = dict(custom_env) if custom_env is not None else None
    text = command_text(command)
    try:
        result = subprocess.run(
            command, shell=shell, env=env, cwd=cwd, timeout=timeout,
            stdout=None if live else subprocess.PIPE, stderr=None if live else subprocess.PIPE,
            text=not live, encoding=None if live else "utf8", errors=None if live else "replace",
        )
    except FileNotFoundError as e:
        # the program itself is missing (git not installed, say): same error path as a failed run
        raise CommandError(f"{errdesc or 'Error running command'}.\nCommand: {text}\n{e}", text, 127) from e
    except subprocess.TimeoutExpired as e:
        raise CommandError(f"{errdesc or 'Error running command'}.\nCommand: {text}\nTimed out after {timeout} s", text, 124) from e

    stdout = "" if live else (result.stdout or "")
    stderr = "" if live else (result.stderr or "")
    if result.returncode != 0:
        parts = [f"{errdesc or 'Error running command'}.", f"Command: {text}", f"Error code: {result.returncode}"]
        if stdout:
            parts.append(f"stdout: {stdout.rstrip()}")
        if stderr:
            parts.append(f"stderr: {stderr.rstrip()}")
        raise CommandError("\n".join(parts), text, result.returncode, stdout, stderr)
    return stdout


def check_run_python(code: str, runner: Runner = run, python: str | None = None) -> bool:
    """Whether ``python -c code`` exits with status 0 (A1111's ``check_run_python``)."""
    try:
        runner([python or sys.executable, "-c", code], live=False)
    except CommandError:
        return False
    return True


def first_line(text: str) -> str:
    """The first non-empty line of ``text`` (for one-line failure messages)."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""
