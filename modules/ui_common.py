"""A1111's ``modules.ui_common``: helpers extensions use to build UIs like the built-in ones.

The code lives in :mod:`modules.ui`; importing this module does not import gradio.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from modules.ui.components import plaintext_to_html  # noqa: F401  (A1111 name)
from modules.ui.symbols import folder_symbol, refresh_symbol  # noqa: F401  (A1111 names)


def create_refresh_button(refresh_component: Any, refresh_method: Callable[[], Any] | None,
                          refreshed_args: Callable[[], dict] | dict | None, elem_id: str) -> Any:
    """A 🔄 button: ``refresh_method()``, then ``refreshed_args`` (a dict or a function giving one) applied to
    ``refresh_component`` (one component or a list)."""
    from modules.ui.components import refresh_button

    return refresh_button(refresh_component, refresh_method, refreshed_args, elem_id)


def create_output_panel(tabname: str, outdir: str | None = None, toprow: Any = None) -> Any:
    """The gallery column of a tab (gallery, buttons, infotext, log); ``outdir`` and ``toprow`` are A1111's and
    unused (the output folder comes from the settings)."""
    from modules.ui.gallery import create_output_panel as create

    return create(tabname)


def update_generation_info(generation_info: str, html_info: str, img_index: int) -> tuple[str, Any]:
    """The infotext HTML of picture ``img_index`` of a job's generation info JSON."""
    from modules.ui.gallery import selected_infotext

    try:
        json.loads(generation_info)
    except (TypeError, ValueError):
        return html_info, None
    return selected_infotext(generation_info, html_info, int(img_index))[0], None


def save_files(js_data: str, images: list, do_make_zip: bool, index: int) -> tuple[list[str], str]:
    """The Save / Zip buttons' work: (saved files, message HTML)."""
    from modules.ui.saving import save_files as save

    files, message = save(js_data, images, do_make_zip, index)
    return files, plaintext_to_html(message)
