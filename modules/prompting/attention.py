"""Emphasis syntax: split a prompt into runs of text with their attention multipliers.

``(text)`` multiplies by 1.1, ``[text]`` divides by 1.1, ``(text:1.3)`` multiplies
by an explicit number; brackets nest and multiply.  ``\\(`` ``\\)`` ``\\[`` ``\\]``
and ``\\\\`` are literal characters.  An opener that is never closed applies to
the rest of the prompt; a closer with no opener is literal text.  The word
``BREAK`` becomes its own ``["BREAK", -1]`` item, which the chunker turns into a
chunk boundary.
"""
from __future__ import annotations

import re

ROUND_MULTIPLIER = 1.1
SQUARE_MULTIPLIER = 1 / 1.1
BREAK_ITEM_WEIGHT = -1
"""The weight that marks a ``BREAK`` item (no real weight is negative one by accident: the text must be ``BREAK`` too)."""

# One alternative per kind of token, tried left to right: the escapes first, then a lone
# backslash (which swallows itself), the openers, an explicit-weight closer, the plain
# closers, a run of ordinary text, and finally a colon that is not part of a weight.
re_attention = re.compile(
    r"""
    \\\( | \\\) | \\\[ | \\\] | \\\\ | \\
    | \( | \[
    | :\s*(?P<weight>[+-]?[.\d]+)\s*\)
    | \) | \]
    | [^\\()\[\]:]+
    | :
    """,
    re.VERBOSE,
)

re_break = re.compile(r"\s*\bBREAK\b\s*", re.S)
"""``BREAK`` as a whole word, with the whitespace around it (which is dropped)."""


def _append_text(res: list[list], text: str) -> None:
    parts = re_break.split(text)
    for i, part in enumerate(parts):
        if i > 0:
            res.append(["BREAK", BREAK_ITEM_WEIGHT])
        res.append([part, 1.0])


def parse_prompt_attention(text: str) -> list[list]:
    """``text`` -> ``[[run, weight], ...]``, as A1111's function of the same name.

    >>> parse_prompt_attention('an (important) word')
    [['an ', 1.0], ['important', 1.1], [' word', 1.0]]

    Adjacent runs with equal weights are merged; an empty prompt gives
    ``[['', 1.0]]``.  A malformed explicit weight such as ``(a:1.2.3)`` (A1111
    raises on it) is kept as literal text here.
    """
    res: list[list] = []
    round_open: list[int] = []
    square_open: list[int] = []

    def multiply_from(start: int, multiplier: float) -> None:
        for item in res[start:]:
            item[1] *= multiplier

    for match in re_attention.finditer(text):
        token = match.group(0)
        weight = match.group("weight")

        if token.startswith("\\"):
            res.append([token[1:], 1.0])
        elif token == "(":
            round_open.append(len(res))
        elif token == "[":
            square_open.append(len(res))
        elif weight is not None and round_open and _is_number(weight):
            multiply_from(round_open.pop(), float(weight))
        elif token == ")" and round_open:
            multiply_from(round_open.pop(), ROUND_MULTIPLIER)
        elif token == "]" and square_open:
            multiply_from(square_open.pop(), SQUARE_MULTIPLIER)
        else:
            _append_text(res, token)

    # Unclosed brackets act as if closed at the end of the prompt, innermost last.
    for start in round_open:
        multiply_from(start, ROUND_MULTIPLIER)
    for start in square_open:
        multiply_from(start, SQUARE_MULTIPLIER)

    if not res:
        res = [["", 1.0]]

    i = 0
    while i + 1 < len(res):
        if res[i][1] == res[i + 1][1]:
            res[i][0] += res[i + 1][0]
            del res[i + 1]
        else:
            i += 1
    return res


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
