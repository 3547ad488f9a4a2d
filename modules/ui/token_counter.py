"""The "N/75" counters in the corner of the prompt boxes.

The count is the one the loaded model's text path makes
(``sd_hijack.model_hijack.get_prompt_lengths``): chunk-aware, so 80 tokens read
"80/150".  Like A1111, the styles are counted in (setting
``include_styles_into_token_counters``), extra-network tags are left out, and for a
scheduled prompt (``[a:b:10]``) the longest of its versions is shown.
"""
from __future__ import annotations

import html
from typing import Any, Sequence

from modules.core.services import current_services


def _opt(key: str, default: Any) -> Any:
    services = current_services()
    return getattr(services.opts, key, default) if services.opts is not None else default


def prompt_versions(text: str, steps: int, is_positive: bool) -> list[str]:
    """Every text the model will see for ``text`` over ``steps`` steps (AND parts, schedule versions)."""
    from modules import extra_networks, prompt_parser

    try:
        text, _ = extra_networks.parse_prompt(text)
        if is_positive:
            _, flat, _ = prompt_parser.get_multicond_prompt_list([text])
        else:
            flat = [text]
        schedules = prompt_parser.get_learned_conditioning_prompt_schedules(flat, max(int(steps or 1), 1))
    except Exception:  # a half-typed prompt often does not parse yet; count it as it stands
        return [text]
    return [prompt for schedule in schedules for _, prompt in schedule] or [text]


def count_tokens(text: str, steps: int, styles: Sequence[str] | None, *, is_positive: bool = True) -> tuple[Any, Any]:
    """``(token count, limit)`` for a prompt box; ``("-", "-")`` without a loaded model."""
    from modules import script_callbacks, sd_hijack
    services = current_services()
    params = script_callbacks.BeforeTokenCounterParams(text or "", int(steps or 1), list(styles or []),
                                                       is_positive=is_positive)
    script_callbacks.before_token_counter_callback(params)
    text = params.prompt
    if _opt("include_styles_into_token_counters", True) and services.prompt_styles is not None:
        apply = (services.prompt_styles.apply_styles_to_prompt if params.is_positive
                 else services.prompt_styles.apply_negative_styles_to_prompt)
        text = apply(text, params.styles)
    lengths = [sd_hijack.model_hijack.get_prompt_lengths(t) for t in prompt_versions(text, params.steps, params.is_positive)]
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
