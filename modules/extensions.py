"""A1111's ``modules.extensions`` import path (the code lives in :mod:`modules.core.extensions`).

``extensions`` is the live list the bootstrap stores on the services (``modules.shared.extensions``);
``active()`` is A1111's helper returning its enabled entries.
"""
from __future__ import annotations

from typing import Any

from modules.core import extensions as _core
from modules.core.services import current_services
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
    return [ext for ext in (current_services().extensions or []) if getattr(ext, "enabled", False)]


def find_extension(filename: str) -> Extension | None:
    """The extension of the running app whose folder holds ``filename``, or ``None``."""
    return _core.find_extension(filename, current_services().extensions or [])


def __getattr__(name: str) -> Any:
    if name == "extensions":
        extensions = current_services().extensions
        return extensions if extensions is not None else []
    raise AttributeError(f"module 'modules.extensions' has no attribute {name!r}")
