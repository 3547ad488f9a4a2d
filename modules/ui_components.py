"""A1111's ``modules.ui_components``: small gradio components extensions build their UIs from.

``FormRow``, ``FormColumn``, ``FormGroup``, ``FormHTML``, ``FormColorPicker``: the gradio
layout/component of the same name that sits inside a gradio form (so it lines up with
the form fields around it).  ``ToolButton``: a small one-symbol button.  ``ResizeHandleRow``:
a row the UI's script gives a drag handle.  ``DropdownMulti`` / ``DropdownEditable``:
dropdowns allowing several values / typed values.  ``InputAccordion``: an accordion that is
also an input (its value is whether it is open)::

    with InputAccordion(False, label="My feature") as enabled:
        strength = gr.Slider(...)
    return [enabled, strength]

The classes live in :mod:`modules.ui.form_components`.  Importing this module does not
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
