"""The "N/75" counters in the corner of the prompt boxes.

The count is the one the loaded model's text path makes (``sd_model.text_conditioning``,
A1111's ``model_hijack.get_prompt_lengths``): chunk-aware, so 80 tokens read
"80/150".  Like A1111, the styles are counted in (setting
``include_styles_into_token_counters``), extra-network tags are left out, and for a
scheduled prompt (``[a:b:10]``) the longest of its versions is shown.
"""
from __future__ import annotations

import html
from typing import Any, Sequence

from modules.core.services import current_services
from modules.networks.extra_networks import parse_prompt
from modules.prompting.token_counter import prompt_variants
from modules.scripting import callbacks
from modules.ui.components import opt


def prompt_versions(text: str, steps: int, is_positive: bool) -> list[str]:
    """Every text the model will see for ``text`` over ``steps`` steps (AND parts, schedule versions)."""
    return prompt_variants(text, max(int(steps or 1), 1), is_positive, strip_extra_networks=_without_network_tags)


def _without_network_tags(text: str) -> str:
    return parse_prompt(text)[0]


def count_tokens(text: str, steps: int, styles: Sequence[str] | None, *, is_positive: bool = True) -> tuple[Any, Any]:
    """``(token count, limit)`` for a prompt box; ``("-", "-")`` without a loaded model."""
    services = current_services()
    params = callbacks.BeforeTokenCounterParams(text or "", int(steps or 1), list(styles or []),
                                                is_positive=is_positive)
    callbacks.before_token_counter_callback(params)
    text = params.prompt
    if opt("include_styles_into_token_counters", True) and services.prompt_styles is not None:
        apply = (services.prompt_styles.apply_styles_to_prompt if params.is_positive
                 else services.prompt_styles.apply_negative_styles_to_prompt)
        text = apply(text, params.styles)
    conditioning = getattr(services.sd_model, "text_conditioning", None)
    if conditioning is None:
        return "-", "-"
    lengths = [conditioning.get_prompt_lengths(t) for t in prompt_versions(text, params.steps, params.is_positive)]
    numeric = [x for x in lengths if isinstance(x[0], int)]
    if not numeric:
        return "-", "-"
    return max(numeric, key=lambda x: x[0])


def counter_html(text: str, steps: int, styles: Sequence[str] | None, *, is_positive: bool = True) -> str:
    """The counter's HTML; red (class ``red``) when the prompt is longer than one chunk would suggest."""
    try:
        count, limit = count_tokens(text, steps, styles, is_positive=is_positive)
    except Exception:  # the counter must never break typing
        count, limit = "-", "-"
    over = isinstance(count, int) and isinstance(limit, int) and count > limit
    return f"<span class='gr-box gr-text-input{' red' if over else ''}'>{html.escape(str(count))}/{html.escape(str(limit))}</span>"
