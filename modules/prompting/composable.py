"""Composable diffusion: ``a cat :1.2 AND a dog :0.8`` -> sub-prompts with weights.

Each prompt is split on the uppercase word ``AND``; a sub-prompt may end with
``:weight`` (default 1.0).  Identical sub-prompt texts across the batch share
one entry of the flat list, so each is encoded once.
"""
from __future__ import annotations

import re
from typing import Sequence

from modules.prompting.sd_conditioning import SdConditioning

re_AND = re.compile(r"\bAND\b")
"""The separator: ``AND`` as a whole word, case-sensitive."""

# Lazy text (newlines included) so the optional ":number" and trailing blanks stay outside it.
re_weight = re.compile(r"^(.*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$", re.S)
"""A sub-prompt: its text, then an optional ``:weight`` and trailing whitespace (A1111's regex, kept for
extensions; :func:`split_weight` does the same split without it, see there)."""

_WEIGHT_AFTER_COLON = re.compile(r"\s*([-+]?(?:\d+\.?|\d*\.\d+))\s*")


def split_weight(subprompt: str) -> tuple[str, float]:
    """``"a dog :0.8 "`` -> ``("a dog", 0.8)``; no suffix -> weight 1.0 (leading blanks are kept).

    The same split as :data:`re_weight`, in linear time: that regex retries its
    lazy prefix at every character, each try running over the rest of a long
    run of spaces (quadratic).  A weight can only follow the last colon, so
    look there directly.
    """
    colon = subprompt.rfind(":")
    if colon >= 0:
        match = _WEIGHT_AFTER_COLON.fullmatch(subprompt, colon + 1)
        if match is not None:
            return subprompt[:colon].rstrip(), float(match.group(1))
    return subprompt.rstrip(), 1.0


def get_multicond_prompt_list(prompts: Sequence[str]) -> tuple[list[list[tuple[int, float]]], list[str], dict[str, int]]:
    """``(indexes, flat_prompts, index_of_text)`` as A1111 returns them.

    ``indexes[i]`` lists ``(position in flat_prompts, weight)`` for each
    sub-prompt of ``prompts[i]``.  The flat list is an
    :class:`~modules.prompting.sd_conditioning.SdConditioning` that keeps the
    ``is_negative_prompt`` / ``width`` / ``height`` of ``prompts``.
    """
    flat = SdConditioning([], copy_from=prompts)
    index_of: dict[str, int] = {}
    all_indexes: list[list[tuple[int, float]]] = []
    for prompt in prompts:
        indexes = []
        for subprompt in re_AND.split(prompt):
            text, weight = split_weight(subprompt)
            index = index_of.get(text)
            if index is None:
                index = len(flat)
                flat.append(text)
                index_of[text] = index
            indexes.append((index, weight))
        all_indexes.append(indexes)
    return all_indexes, flat, index_of

