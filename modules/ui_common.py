"""A1111's ``modules.ui_common``: helpers extensions use to build UIs like the built-in ones.

The code lives in :mod:`modules.ui`; importing this module does not import gradio.
"""
from __future__ import annotations

from modules.ui.components import create_refresh_button, plaintext_to_html  # noqa: F401  (A1111 names)
from modules.ui.gallery import create_output_panel, update_generation_info  # noqa: F401  (A1111 names)
from modules.ui.saving import save_files_html as save_files  # noqa: F401  (A1111 name)
from modules.ui.symbols import folder_symbol, refresh_symbol  # noqa: F401  (A1111 names)
