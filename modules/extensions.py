"""A1111's ``modules.extensions`` import path (the code lives in :mod:`modules.core.extensions`).

``extensions`` is the live list the bootstrap stores on ``modules.shared``;
``active()`` is A1111's helper returning its enabled entries.
"""
from __future__ import annotations

from typing import Any

from modules.core import extensions as _core
from modules.core.extensions import (
    CallbackOrderInfo,
    Extension,
    ExtensionMetadata,
    active_extensions,
    disable_mode,
    disabled_reason,
    list_extensions,
)

__all__ = ["CallbackOrderInfo", "Extension", "ExtensionMetadata", "active", "active_extensions", "disable_mode",
           "disabled_reason", "find_extension", "list_extensions"]


def active() -> list[Extension]:
    """The enabled extensions of the running app (empty before the bootstrap listed them)."""
    from modules import shared

    return [ext for ext in (shared.extensions or []) if getattr(ext, "enabled", False)]


def find_extension(filename: str) -> Extension | None:
    """The extension of the running app whose folder holds ``filename``, or ``None``."""
    from modules import shared

    return _core.find_extension(filename, shared.extensions or [])


def __getattr__(name: str) -> Any:
    if name == "extensions":
        from modules import shared

        return shared.extensions if shared.extensions is not None else []
    raise AttributeError(f"module 'modules.extensions' has no attribute {name!r}")
