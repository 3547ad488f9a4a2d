"""Calling extension code isolated: an exception is reported with the script's file and the caller goes on.

The report format and the record of recent reports live in :mod:`modules.core.errors`
(A1111's ``errors.report``); they are re-exported here for the scripting layer.
"""
from __future__ import annotations

from typing import Any, Callable

from modules.core.errors import ErrorRecord, recent, report  # noqa: F401  (re-exported)


def wrap_call(func: Callable[..., Any], filename: str | None, funcname: str, *args: Any, default: Any = None,
              **kwargs: Any) -> Any:
    """``func(*args, **kwargs)``, or ``default`` after reporting ``<filename>/<funcname>`` when it raises."""
    try:
        return func(*args, **kwargs)
    except Exception:
        report(f"Error calling: {filename}/{funcname}", exc_info=True)
    return default
