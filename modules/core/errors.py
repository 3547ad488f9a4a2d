"""Reporting an error the way A1111's ``errors.report`` does (extension problems, broken scripts).

A report is a ``*** <message>`` line (one per message line), then, with
``exc_info``, the traceback being handled indented by four spaces and ``---``,
all on stderr.  The last reports are also kept in :data:`recent` so the sysinfo
page and tests can see what failed.
"""
from __future__ import annotations

import sys
import textwrap
import traceback
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorRecord:
    """One reported error: the message and the formatted traceback ('' without one)."""

    message: str
    traceback: str


recent: deque[ErrorRecord] = deque(maxlen=100)
"""The last reported errors, oldest first."""


def report(message: str, *, exc_info: bool = False) -> None:
    """Print ``message`` (each line prefixed ``***``) and, with ``exc_info``, the exception being handled."""
    trace = traceback.format_exc() if exc_info else ""
    recent.append(ErrorRecord(message, trace))
    lines = [f"*** {line}" for line in message.splitlines() or [""]]
    if trace:
        lines.append(textwrap.indent(trace.rstrip("\n"), "    "))
        lines.append("---")
    print("\n".join(lines), file=sys.stderr, flush=True)
