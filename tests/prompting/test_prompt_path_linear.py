"""The rest of the prompt path: same answers as A1111's straightforward code, in linear time on long prompts.

(Extra-network tags are stripped by ``modules.networks.extra_networks`` before the
prompt reaches this package; that pass is covered here too.)

Each rewritten piece is compared with A1111's algorithm (written out here as
the reference) on random prompts, then run on long adversarial ones under a
per-example deadline.
"""
from __future__ import annotations

import re
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from modules.networks import extra_networks
from modules.prompting import attention, limits
from modules.prompting.attention import parse_prompt_attention
from modules.prompting.chunking import TokenizerAdapter, tokenize_line
from modules.prompting.comments import strip_comments
from modules.prompting.composable import get_multicond_prompt_list, re_weight, split_weight
from modules.prompting.styles import apply_styles_to_prompt
from modules.prompting.token_counter import strip_extra_network_tags

A1111_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)
A1111_TAG = re.compile(r"<(\w+):([^>]+)>")


def reference_attention(text: str) -> list[list]:
    """A1111's parse_prompt_attention: every close multiplies each run from its opening on, one by one."""
    res: list[list] = []
    round_open: list[int] = []
    square_open: list[int] = []

    def multiply_range(start: int, multiplier: float) -> None:
        for p in range(start, len(res)):
            res[p][1] *= multiplier

    for m in attention.re_attention.finditer(text):
        token, weight = m.group(0), m.group("weight")
        if token.startswith("\\"):
            res.append([token[1:], 1.0])
        elif token == "(":
            round_open.append(len(res))
        elif token == "[":
            square_open.append(len(res))
        elif weight is not None and round_open and attention._is_number(weight):
            multiply_range(round_open.pop(), float(weight))
        elif token == ")" and round_open:
            multiply_range(round_open.pop(), 1.1)
        elif token == "]" and square_open:
            multiply_range(square_open.pop(), 1 / 1.1)
        else:
            for i, part in enumerate(A1111_BREAK.split(token)):
                if i > 0:
                    res.append(["BREAK", -1])
                res.append([part, 1.0])
    for pos in round_open:
        multiply_range(pos, 1.1)
    for pos in square_open:
        multiply_range(pos, 1 / 1.1)
    if not res:
        res = [["", 1.0]]
    i = 0
    while i + 1 < len(res):
        if res[i][1] == res[i + 1][1]:
            res[i][0] += res[i + 1][0]
            res.pop(i + 1)
        else:
            i += 1
    return res


def reference_split_weight(subprompt: str) -> tuple[str, float]:
    text, weight = re_weight.search(subprompt).groups()  # type: ignore[union-attr]
    return text, float(weight) if weight is not None else 1.0


ATTENTION_TOKENS = ["(", ")", "[", "]", ":", ":1.5)", ": -1 )", ":0)", "1.3", "a", "b c", " ", "  ", "\n", "BREAK",
                    " BREAK ", "xBREAK", "\\", "\\(", "\\]", "\\\\", ","]
TEXT_TOKENS = [":", " ", "  ", "\n", "\t", "1", ".", "5", "-", "+", "a", "AND", "<", ">", "<lora:", "x:1>", "BREAK"]

_FUZZ = settings(max_examples=200, deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.lists(st.sampled_from(ATTENTION_TOKENS), max_size=24).map("".join))
def test_attention_same_as_a1111(text):
    # Exact equality: the same floating-point products in the same order.
    assert parse_prompt_attention(text) == reference_attention(text)


@_FUZZ
@given(st.lists(st.sampled_from(TEXT_TOKENS), max_size=16).map("".join))
def test_text_splits_same_as_a1111(text):
    assert attention.re_break.split(text) == A1111_BREAK.split(text)
    assert split_weight(text) == reference_split_weight(text)
    assert strip_extra_network_tags(text) == A1111_TAG.sub("", text)
    stripped, found = extra_networks.parse_prompt(text)
    assert stripped == A1111_TAG.sub("", text)
    expected: dict[str, list[list[str]]] = {}
    for match in A1111_TAG.finditer(text):
        expected.setdefault(match.group(1), []).append(match.group(2).split(":"))
    assert {name: [p.items for p in params] for name, params in found.items()} == expected


def _fill(unit: str, length: int = limits.MAX_PROMPT_CHARS) -> str:
    return (unit * (length // len(unit) + 1))[:length]


def _with_examples(units: list[str]):
    def decorate(test):
        for unit in units:
            test = example(unit)(test)
        return test
    return decorate


_LONG = settings(max_examples=4, deadline=timedelta(seconds=5), database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
"""A deadline far above these linear passes on MAX_PROMPT_CHARS (milliseconds to tenths of a second) and
far below what the quadratic versions took (seconds to minutes)."""

ATTACKS = ["(a", "[a:", "[a|", "(", " ", "a ", "<a:", ": ", "\\(", "BREAK ", " AND ", "(a)(b:1.2)[c] ", "#\n"]


@settings(_LONG)
@_with_examples(ATTACKS)
@given(st.lists(st.sampled_from(ATTENTION_TOKENS + TEXT_TOKENS), min_size=1, max_size=6).map("".join))
def test_prompt_path_is_fast_on_long_prompts(unit):
    text = _fill(unit)
    runs = parse_prompt_attention(text)
    assert sum(len(t) for t, _ in runs) <= len(text)
    attention.re_break.split(text)
    split_weight(text)
    strip_extra_network_tags(text)
    extra_networks.parse_prompt(text)
    strip_comments(text)
    get_multicond_prompt_list([text])
    apply_styles_to_prompt(text[: limits.MAX_PROMPT_CHARS // 2], ["{prompt}, masterpiece"])


@settings(_LONG)
@_with_examples(["(a", "BREAK ", "a,", "[a:"])
@given(st.lists(st.sampled_from(ATTENTION_TOKENS), min_size=1, max_size=6).map("".join))
def test_chunking_is_fast_on_long_prompts(unit):
    tokenizer = TokenizerAdapter(encode=lambda text: [ord(c) for c in text if not c.isspace()], comma_token=ord(","),
                                 id_start=1, id_end=2, id_pad=2)
    text = _fill(unit)
    if text.count("BREAK") > limits.MAX_PROMPT_BREAKS:
        return  # refused by check_prompt_limits before chunking
    try:
        chunks, count = tokenize_line(text, tokenizer)
    except limits.PromptLimitError:
        return
    assert all(len(chunk.tokens) == 77 for chunk in chunks)
