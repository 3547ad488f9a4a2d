"""Parsing the values textbox of an X/Y/Z plot axis: CSV items and numeric ranges.

Integer items may be ranges ``1-5`` (inclusive), ``1-10 (+2)`` (step) or ``1-10 [5]``
(that many evenly spaced values); float items the same with decimals.
"""
from __future__ import annotations

import csv
import re
from io import StringIO
from itertools import chain

import numpy as np

_INT = r"[+-]?\s*\d+"
_FLOAT = r"[+-]?\s*\d+(?:\.\d*)?"
RE_INT_STEP = re.compile(rf"^\s*({_INT})\s*-\s*({_INT})\s*(?:\(\s*([+-]\s*\d+)\s*\))?\s*$")
RE_INT_COUNT = re.compile(rf"^\s*({_INT})\s*-\s*({_INT})\s*\[\s*(\d+)\s*\]\s*$")
RE_FLOAT_STEP = re.compile(rf"^\s*({_FLOAT})\s*-\s*({_FLOAT})\s*(?:\(\s*([+-]\s*\d+(?:\.\d*)?)\s*\))?\s*$")
RE_FLOAT_COUNT = re.compile(rf"^\s*({_FLOAT})\s*-\s*({_FLOAT})\s*\[\s*(\d+)\s*\]\s*$")


MAX_RANGE_VALUES = 10_000
"""Values one range item may expand to (``1-1000000000`` would otherwise fill the memory before any check)."""


def _bounded(count: int, item: str) -> int:
    if count > MAX_RANGE_VALUES:
        raise ValueError(f"range {item} has {count} values; the limit is {MAX_RANGE_VALUES}")
    return count


def _num(text: str) -> str:
    return text.replace(" ", "")


def split_csv(text: str) -> list[str]:
    """Comma-separated items (CSV quoting allowed: ``"a, b", c``), stripped, empty ones dropped."""
    rows = csv.reader(StringIO(text), skipinitialspace=True)
    return [item.strip() for item in chain.from_iterable(rows) if item.strip()]


def expand_int(items: list[str]) -> list[int]:
    """Integers, with ``a-b``, ``a-b (+s)`` and ``a-b [n]`` ranges expanded."""
    values: list[int] = []
    for item in items:
        step_match, count_match = RE_INT_STEP.match(item), RE_INT_COUNT.match(item)
        if count_match:
            start, end, count = int(_num(count_match[1])), int(_num(count_match[2])), int(count_match[3])
            values += [int(v) for v in np.linspace(start, end, num=_bounded(count, item)).astype(int)]
        elif step_match:
            start, end = int(_num(step_match[1])), int(_num(step_match[2]))
            step = int(_num(step_match[3])) if step_match[3] is not None else 1
            if step == 0:
                raise ValueError(f"range step must not be 0: {item}")
            span = range(start, end + (1 if step > 0 else -1), step)
            _bounded(len(span), item)
            values += list(span)
        else:
            values.append(int(item))
    return values


def expand_float(items: list[str]) -> list[float]:
    """Floats, with ``a-b (+s)`` and ``a-b [n]`` ranges expanded (``a-b`` alone steps by 1)."""
    values: list[float] = []
    for item in items:
        step_match, count_match = RE_FLOAT_STEP.match(item), RE_FLOAT_COUNT.match(item)
        if count_match:
            start, end, count = float(_num(count_match[1])), float(_num(count_match[2])), int(count_match[3])
            values += [float(v) for v in np.linspace(start, end, num=_bounded(count, item))]
        elif step_match:
            start, end = float(_num(step_match[1])), float(_num(step_match[2]))
            step = float(_num(step_match[3])) if step_match[3] is not None else 1.0
            if step == 0:
                raise ValueError(f"range step must not be 0: {item}")
            # count the steps instead of accumulating them, so 0.5-1 (+0.1) ends at 1.0, not 1.1 or 0.9
            count = int(np.floor((end - start) / step + 1e-9)) + 1
            values += [round(start + i * step, 10) for i in range(_bounded(max(count, 0), item))]
        else:
            values.append(float(item))
    return values
