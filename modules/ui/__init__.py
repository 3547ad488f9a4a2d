"""The web UI (gradio), built by :func:`modules.ui.frame.create_ui`; also A1111's ``modules.ui`` import path.

Extensions import a few names from ``modules.ui``: ``create_ui``, ``gr_show``,
``plaintext_to_html``, ``create_refresh_button``, the button symbols.  They are
here, looked up on first use, so importing this package (or any module in it)
does not load the whole page's modules.
"""
from __future__ import annotations

from typing import Any

from modules.ui.symbols import *  # noqa: F401,F403  (A1111's random_symbol, reuse_symbol, paste_symbol...)


def gr_show(visible: bool = True) -> dict[str, Any]:
    """A gradio update showing (or hiding) a component (A1111's helper)."""
    return {"visible": visible, "__type__": "update"}


def __getattr__(name: str) -> Any:
    # each import below loads part of the page on first use: a module of this package imports the package
    # first, and must not bring the whole page with it
    if name == "create_ui":
        from modules.ui.frame import create_ui  # the page on first use (see above)

        return create_ui
    if name in ("plaintext_to_html", "create_refresh_button"):
        from modules.ui import components  # on first use (see above)

        return getattr(components, name)
    if name == "create_output_panel":
        from modules.ui.gallery import create_output_panel  # on first use (see above)

        return create_output_panel
    if name == "create_setting_component":
        from modules.ui.settings_components import create_setting_component  # on first use (see above)

        return create_setting_component
    if name == "ordered_ui_categories":
        from modules.ui.generation_controls import ordered_ui_categories  # on first use (see above)

        return ordered_ui_categories
    if name == "create_override_settings_dropdown":
        from modules.ui.generation_controls import create_override_settings  # on first use (see above)

        return create_override_settings
    raise AttributeError(f"module 'modules.ui' has no attribute {name!r}")
