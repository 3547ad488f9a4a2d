"""A1111's ``modules.ui_components``: small gradio components extensions build their UIs from.

``FormRow``, ``ToolButton``, ``InputAccordion`` and the others are described in
:mod:`modules.ui.form_components`, where they live.  Importing this module does not
import gradio: the classes are made on first use (``from modules.ui_components import
FormRow`` is a first use).
"""
from __future__ import annotations

from typing import Any

from modules.ui import form_components as _components
from modules.ui.form_components import __all__  # noqa: F401  (A1111's names)


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'modules.ui_components' has no attribute {name!r}")
    value = getattr(_components, name)
    globals()[name] = value
    return value
