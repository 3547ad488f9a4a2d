"""Emphasis syntax: split a prompt into runs of text with their attention multipliers.

``(text)`` multiplies by 1.1, ``[text]`` divides by 1.1, ``(text:1.3)`` multiplies
by an explicit number; brackets nest and multiply.  ``\\(`` ``\\)`` ``\\[`` ``\\]``
and ``\\\\`` are literal characters.  An opener that is never closed applies to
the rest of the prompt; a closer with no opener is literal text.  The word
``BREAK`` becomes its own ``["BREAK", -1]`` item, which the chunker turns into a
chunk boundary.
"""
from __future__ import annotations

import bisect
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

re_break = re.compile(r"(?:(?<!\s)\s+)?\bBREAK\b\s*", re.S)
"""``BREAK`` as a whole word, with the whitespace around it (which is dropped).

A1111 writes ``\s*\bBREAK\b\s*``; splitting with that takes quadratic time on a
long run of spaces (the engine retries the run from every position).  Here the
leading whitespace may only start where a run starts, which finds the same
matches in linear time.
"""


def _append_text(cells: "_Cells", text: str) -> None:
    parts = re_break.split(text)
    for i, part in enumerate(parts):
        if i > 0:
            cells.append("BREAK", BREAK_ITEM_WEIGHT)
        cells.append(part, 1.0)


class _Cells:
    """The runs A1111 builds, grouped into cells of neighbouring runs that have the same weight so far.

    A1111 multiplies every run from a bracket's opening to its close (or to the
    end of the prompt) one by one, which is quadratic for deeply nested or
    unclosed brackets.  A cell is multiplied once for all its runs (they hold the
    same value, so each still gets exactly A1111's sequence of products), and is
    split only where a bracket opened inside it.  Cells are boundaries over one
    list of run texts, so splitting copies nothing.
    """

    __slots__ = ("texts", "firsts", "weights")

    def __init__(self) -> None:
        self.texts: list[str] = []  # every run's text, in order
        self.firsts: list[int] = []  # index of each cell's first run
        self.weights: list[float] = []

    @property
    def count(self) -> int:
        """Runs so far."""
        return len(self.texts)

    def append(self, text: str, weight: float) -> None:
        if not self.weights or self.weights[-1] != weight:
            self.firsts.append(len(self.texts))
            self.weights.append(weight)
        self.texts.append(text)

    def multiply_from(self, run: int, multiplier: float) -> None:
        """Multiply run ``run`` and every later one by ``multiplier``."""
        if run >= len(self.texts):
            return
        firsts, weights = self.firsts, self.weights
        cell = bisect.bisect_right(firsts, run) - 1
        if firsts[cell] < run:  # the bracket opened inside this cell: split it there
            cell += 1
            firsts.insert(cell, run)
            weights.insert(cell, weights[cell - 1])
        for i in range(cell, len(weights)):
            weights[i] *= multiplier
        if cell > 0 and weights[cell - 1] == weights[cell]:  # keep cells few: join with the one before
            del firsts[cell], weights[cell]

    def runs(self) -> list[list]:
        """``[[text, weight], ...]`` with neighbouring equal weights merged, as A1111 returns them."""
        merged: list[tuple[int, int, float]] = []  # (first run, end run, weight)
        texts, firsts, weights = self.texts, self.firsts, self.weights
        for i, weight in enumerate(weights):
            end = firsts[i + 1] if i + 1 < len(firsts) else len(texts)
            if merged and merged[-1][2] == weight:
                merged[-1] = (merged[-1][0], end, weight)
            else:
                merged.append((firsts[i], end, weight))
        return [["".join(texts[first:end]), weight] for first, end, weight in merged] or [["", 1.0]]


def parse_prompt_attention(text: str) -> list[list]:
    """``text`` -> ``[[run, weight], ...]``, as A1111's function of the same name.

    >>> parse_prompt_attention('an (important) word')
    [['an ', 1.0], ['important', 1.1], [' word', 1.0]]

    Adjacent runs with equal weights are merged; an empty prompt gives
    ``[['', 1.0]]``.  A malformed explicit weight such as ``(a:1.2.3)`` (A1111
    raises on it) is kept as literal text here.  Linear in the length of the
    text times the nesting depth at worst (see :class:`_Cells`).
    """
    cells = _Cells()
    round_open: list[int] = []
    square_open: list[int] = []

    for match in re_attention.finditer(text):
        token = match.group(0)
        weight = match.group("weight")

        if token.startswith("\\"):
            cells.append(token[1:], 1.0)
        elif token == "(":
            round_open.append(cells.count)
        elif token == "[":
            square_open.append(cells.count)
        elif weight is not None and round_open and _is_number(weight):
            cells.multiply_from(round_open.pop(), float(weight))
        elif token == ")" and round_open:
            cells.multiply_from(round_open.pop(), ROUND_MULTIPLIER)
        elif token == "]" and square_open:
            cells.multiply_from(square_open.pop(), SQUARE_MULTIPLIER)
        else:
            _append_text(cells, token)

    # Unclosed brackets act as if closed at the end of the prompt, outermost first.
    for start in round_open:
        cells.multiply_from(start, ROUND_MULTIPLIER)
    for start in square_open:
        cells.multiply_from(start, SQUARE_MULTIPLIER)
    return cells.runs()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
