"""The linear prompt-editing parser against lark's Earley parse of A1111's grammar, and its cost on long prompts.

lark (tests/prompting/lark_oracle.py) is the oracle: the schedules must be the
same on every prompt, including the ambiguous ones where lark's answer depends
on the order of its Earley loop.  The runs are derandomized so a failure
reproduces; each property keeps its example count small so the file takes
seconds.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from modules.prompting import limits
from modules.prompting.schedule_syntax import PromptSyntaxError, read_segments
from modules.prompting.scheduling import get_schedule_parser, prompt_schedule
from tests.prompting import lark_oracle

SYNTAX = ["[", "]", "(", ")", ":", "|", "\\", " ", "\n", "0", "1", "2", ".", "-", "e", "a", "b", "AND", "BREAK",
          "1.5", ".5"]
"""The syntax's alphabet: brackets, separators, escapes, whitespace, number parts, words."""

CONFIGS = [(10, None, False), (6, 9, False), (10, None, True)]
"""(steps, hires steps, old timelines): the first pass, the hires pass, the pre-1.6 rule."""

# Ambiguous prompts (stray brackets next to a schedule).  The expected schedules are lark's:
# whether "[a:1]" counts depends on how many stray brackets follow and what precedes it.
TRICKY = [
    ("x[a:1]](", [[10, "x[a:1]]("]]),
    ("x[a:1]]]", [[10, "x[a:1]]]"]]),
    ("x[a:1]]]]", [[1, "x]]]"], [10, "xa]]]"]]),
    ("[a:1]](", [[10, "[a:1]]("]]),
    ("[a:1]]((", [[1, "](("], [10, "a](("]]),
    ("a()[b:1]]", [[1, "a()]"], [10, "a()b]"]]),
    (" [a:1]]", [[1, " ]"], [10, " a]"]]),
    ("[[a:1]]]", [[10, "[[a:1]]]"]]),
    ("[a:1]][b:2]", [[1, "]"], [2, "a]"], [10, "a]b"]]),
    ("(a:[b:1])]]", [[1, "(a:)]]"], [10, "(a:b)]]"]]),
    ("[a: 1 ]]](", [[1, "]]("], [10, "a]]("]]),
    (":[a:1]]]", [[10, ":[a:1]]]"]]),
    ("[(a:2):1]](", [[10, "[(a:2):1]]("]]),
    ("x[a|b]]((", [[s, ("xa](" if s % 2 else "xb](") + "("] for s in range(1, 11)]),
    ("a]b[c:d:2]", [[2, "a]bc"], [10, "a]bd"]]),
    ("((a][:b:c [d:3]", [[3, "((a][:b:c "], [10, "((a][:b:c d"]]),
    ("a [b:2] ]] c [d:3] ))", [[2, "a  ]] c  ))"], [3, "a b ]] c  ))"], [10, "a b ]] c d ))"]]),
    # Does not parse: used as it is.
    ("[a|b] c|d", [[10, "[a|b] c|d"]]),
    ("[a:b:1]\\", [[10, "[a:b:1]\\"]]),
]


@pytest.mark.parametrize("prompt,expected", TRICKY, ids=[repr(c[0]) for c in TRICKY])
def test_ambiguous_prompts_resolve_like_lark(prompt, expected):
    assert prompt_schedule(prompt, 10) == expected
    assert lark_oracle.schedule(prompt, 10) == expected


_FUZZ = settings(max_examples=120, deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])


def _same_as_lark(prompt: str) -> None:
    for steps, hires, old in CONFIGS:
        assert prompt_schedule(prompt, steps, hires, old) == lark_oracle.schedule(prompt, steps, hires, old), \
            (prompt, steps, hires, old)


@_FUZZ
@given(st.lists(st.sampled_from(SYNTAX), max_size=14).map("".join))
def test_schedules_match_lark_on_random_prompts(prompt):
    _same_as_lark(prompt)


@_FUZZ
@given(st.text(alphabet="[]():|a1 ", max_size=18))
def test_schedules_match_lark_on_bracket_soup(prompt):
    # Dense stray brackets and colons: where lark's choice among readings is the least obvious.
    _same_as_lark(prompt)


@settings(_FUZZ, max_examples=60)
@given(st.lists(st.sampled_from(["[a:1]", "[a:b:2]", "[a|b]", "(a)", "(a:1.2)", "[a]", "]", ")", "(", "[", ":", " "]),
                max_size=6).map("".join))
def test_schedules_match_lark_around_well_formed_pieces(prompt):
    _same_as_lark(prompt)


def test_tree_for_extensions():
    tree = get_schedule_parser().parse("a [b:c:3] (d:1.1) ]")
    assert tree.data == "start"
    prompt, literal = tree.children
    assert literal == "]" and literal.type == "LITERAL"
    assert [child.data for child in prompt.children] == ["plain", "scheduled", "plain", "emphasized", "plain"]
    scheduled = prompt.children[1]
    assert scheduled.children[3] == "3" and scheduled.children[3].type == "NUMBER"
    assert [t.data for t in tree.iter_subtrees()][:3] == ["start", "prompt", "plain"]
    with pytest.raises(PromptSyntaxError):
        get_schedule_parser().parse("a|b")


def test_nesting_at_the_limit():
    depth = limits.MAX_PROMPT_NESTING - 1
    prompt = "(" * depth + "[a:b:2]" + ")" * depth
    assert prompt_schedule(prompt, 4) == [[2, "(" * depth + "a" + ")" * depth], [4, "(" * depth + "b" + ")" * depth]]


def _fill(unit: str, length: int = limits.MAX_PROMPT_CHARS) -> str:
    return (unit * (length // len(unit) + 1))[:length]


_LONG = settings(max_examples=6, deadline=timedelta(seconds=5), database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
"""Long inputs: a per-example deadline far above the linear cost (tens of milliseconds) and far below
what the Earley parse took (minutes), so a return to superlinear parsing fails here."""

_UNITS = st.lists(st.sampled_from(SYNTAX), min_size=1, max_size=8).map("".join)


@_LONG
@given(_UNITS)
def test_parser_is_fast_on_long_adversarial_prompts(unit):
    # The reader itself, on MAX_PROMPT_CHARS of a repeated pattern, whatever its nesting.
    text = _fill(unit)
    segments = read_segments(text)
    if segments is not None:
        assert segments[0][0] == 0 and segments[-1][1] == len(text)


@_LONG
@given(_UNITS)
def test_schedules_are_fast_on_long_prompts(unit):
    text = _fill(unit)
    try:
        schedule = prompt_schedule(text, 20)
    except limits.PromptLimitError:
        return  # too deep or too many BREAKs: refused before parsing
    assert schedule[-1][0] == 20


ATTACKS = ["(", "[", "[a:", "[a|", "(a", "x[a:1]](", "()", "[a:1]", "\\(", " ", "BREAK "]
"""The reported ones (100,000 "(", "[a:" * 10000, ...) and their relatives."""


def _with_examples(units: list[str]):
    def decorate(test):
        for unit in units:
            test = example(unit)(test)
        return test
    return decorate


@settings(_LONG, max_examples=1)
@_with_examples(ATTACKS)
@given(st.sampled_from(ATTACKS))
def test_known_attacks_stay_fast(unit):
    # MAX_PROMPT_CHARS of each, whatever the nesting.
    read_segments(_fill(unit))


@settings(_LONG, max_examples=1)
@_with_examples(["(a", "[a:1]"])
@given(st.sampled_from(ATTACKS))
def test_tree_for_extensions_is_fast(unit):
    text = _fill(unit, 20_000)
    if read_segments(text) is not None:
        assert get_schedule_parser().parse(text).data == "start"
