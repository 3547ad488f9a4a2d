"""A1111's ``modules.styles``: prompt styles (a thin re-export of :mod:`modules.prompting.styles`)."""
from __future__ import annotations

from modules.prompting.styles import (  # noqa: F401
    PromptStyle,
    StyleDatabase,
    apply_styles_to_prompt,
    extract_original_prompts,
    extract_style_text_from_prompt,
    merge_prompts,
)
