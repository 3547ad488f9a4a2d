"""The ``N/75`` counter under the prompt boxes.

The UI strips comments and applies styles first (settings
``enable_prompt_comments`` and ``include_styles_into_token_counters``, via the
``before_token_counter`` callbacks); this module does the rest as A1111 does:
drop extra-network tags, split a positive prompt on ``AND``, expand the
schedules, and count the longest variant.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from modules.prompting.chunking import CHUNK_LENGTH, PromptTokenizer, target_prompt_token_count, tokenize_line
from modules.prompting.composable import get_multicond_prompt_list
from modules.prompting.scheduling import get_learned_conditioning_prompt_schedules

_EXTRA_NETWORK_TAG = re.compile(r"<(\w++):([^>]++)>")


def strip_extra_network_tags(text: str) -> str:
    """``text`` without ``<lora:...>``-style tags (they are not sent to the text encoder).

    A1111's ``<(\\w+):([^>]+)>`` scans to the end of the text for every ``<x:``
    that no ``>`` follows (quadratic on ``<a:<a:<a:...``).  No tag can end after
    the last ``>``, so only the text up to there is searched.
    """
    cut = text.rfind(">") + 1
    return _EXTRA_NETWORK_TAG.sub("", text[:cut]) + text[cut:]


def get_prompt_lengths(text: str, tokenizer: PromptTokenizer, **options: Any) -> tuple[int, int]:
    """``(token_count, limit)`` for one prompt text; ``options`` go to :func:`tokenize_line`."""
    _, count = tokenize_line(text, tokenizer, **options)
    return count, target_prompt_token_count(count, options.get("chunk_length", CHUNK_LENGTH))


def prompt_variants(text: str, steps: int, is_positive: bool = True,
                    strip_extra_networks: Callable[[str], str] = strip_extra_network_tags) -> list[str]:
    """Every text the prompt stands for at some step (and each ``AND`` part of a positive prompt).

    A prompt that fails to parse while being typed counts as itself.
    """
    try:
        text = strip_extra_networks(text)
        flat = get_multicond_prompt_list([text])[1] if is_positive else [text]
        schedules = get_learned_conditioning_prompt_schedules(flat, steps)
    except Exception:  # noqa: BLE001 - half-typed prompts must never break the counter
        schedules = [[[steps, text]]]
    return [variant for schedule in schedules for _, variant in schedule]


def prompt_token_count(text: str, steps: int, tokenizer: PromptTokenizer, *, is_positive: bool = True,
                       strip_extra_networks: Callable[[str], str] = strip_extra_network_tags,
                       **options: Any) -> tuple[int, int]:
    """``(token_count, limit)`` of the longest variant, e.g. ``(80, 150)``.

    ``options`` are :func:`tokenize_line`'s keyword arguments (``emphasis``,
    ``comma_padding_backtrack``, ``find_embedding``).
    """
    lengths = [get_prompt_lengths(v, tokenizer, **options)
               for v in prompt_variants(text, steps, is_positive, strip_extra_networks)]
    return max(lengths, key=lambda pair: pair[0])
