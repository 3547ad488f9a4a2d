"""The web UI (gradio), built by :func:`modules.ui.frame.create_ui`; also A1111's ``modules.ui`` import path.

Extensions import a few names from ``modules.ui``: ``create_ui``, ``gr_show``,
``plaintext_to_html``, ``create_refresh_button``, the button symbols.  They are
here, looked up on first use, so importing this package does not import gradio.
"""
from __future__ import annotations

import importlib
from typing import Any

from modules.ui.symbols import *  # noqa: F401,F403  (A1111's random_symbol, reuse_symbol, paste_symbol...)

_LAZY = {
    "create_ui": ("modules.ui.frame", "create_ui"),
    "plaintext_to_html": ("modules.ui.components", "plaintext_to_html"),
    "create_refresh_button": ("modules.ui_common", "create_refresh_button"),
    "create_output_panel": ("modules.ui_common", "create_output_panel"),
    "create_setting_component": ("modules.ui.settings_components", "create_setting_component"),
    "ordered_ui_categories": ("modules.ui.generation_controls", "ordered_ui_categories"),
    "create_override_settings_dropdown": ("modules.ui.generation_controls", "create_override_settings"),
}


def gr_show(visible: bool = True) -> dict[str, Any]:
    """A gradio update showing (or hiding) a component (A1111's helper)."""
    return {"visible": visible, "__type__": "update"}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'modules.ui' has no attribute {name!r}")
    return getattr(importlib.import_module(target[0]), target[1])
