"""Prompt-editing schedules (SPEC 4.2): expected ``[[end_step, text], ...]`` worked out from A1111's rules.

New timelines: a number with a decimal point is a fraction of the steps, an
integer a step; ``int()`` truncates; an end step below 1 means "already
switched"; each alternation adds every step.  Hires: integers minus the
first-pass steps, fractions minus 1.0, over the hires step count.  Old
timelines: below 1 a fraction, else a step, always over the first-pass steps.
"""
from __future__ import annotations

import pytest

from modules.prompting.scheduling import get_learned_conditioning_prompt_schedules, old_timelines_differ


def alternating(options, steps):
    return [[s, options[(s - 1) % len(options)]] for s in range(1, steps + 1)]


FANTASY = ("fantasy landscape with a [mountain:lake:0.25] and [an oak:a christmas tree:0.75]"
           "[ in foreground::0.6][ in background:0.25] [shoddy:masterful:0.5]")

# (prompt, base_steps, hires_steps, use_old_scheduling, expected)
CASES = [
    ("test", 10, None, False, [[10, "test"]]),
    ("a [b:3]", 10, None, False, [[3, "a "], [10, "a b"]]),
    ("a [b: 3]", 10, None, False, [[3, "a "], [10, "a b"]]),
    ("[a:b: 3 ]", 10, None, False, [[3, "a"], [10, "b"]]),
    ("a [[[b]]:2]", 10, None, False, [[2, "a "], [10, "a [[b]]"]]),
    ("[(a:2):3]", 10, None, False, [[3, ""], [10, "(a:2)"]]),
    ("a [b : c : 1] d", 10, None, False, [[1, "a b  d"], [10, "a  c  d"]]),
    ("a[b:[c:d:2]:1]e", 10, None, False, [[1, "abe"], [2, "ace"], [10, "ade"]]),
    ("[[a:b:2]:c:5]", 10, None, False, [[2, "a"], [5, "b"], [10, "c"]]),
    ("a [unbalanced", 10, None, False, [[10, "a [unbalanced"]]),
    ("[a:b:2", 10, None, False, [[10, "[a:b:2"]]),
    ("[a:b:c]", 10, None, False, [[10, "[a:b:c]"]]),
    ("a [b:.5] c", 10, None, False, [[5, "a  c"], [10, "a b c"]]),
    ("a [b::3] c", 10, None, False, [[3, "a b c"], [10, "a  c"]]),
    ("((a][:b:c [d:3]", 10, None, False, [[3, "((a][:b:c "], [10, "((a][:b:c d"]]),
    ("(a:1.2) [b]", 10, None, False, [[10, "(a:1.2) [b]"]]),
    ("(a [b:c:2]:1.2)", 4, None, False, [[2, "(a b:1.2)"], [4, "(a c:1.2)"]]),
    ("a \\[b:c:2\\]", 10, None, False, [[10, "a \\[b:c:2\\]"]]),
    ("[a\\:b:c:2]", 10, None, False, [[2, "a\\:b"], [10, "c"]]),
    ("a\n[b:c:2]", 10, None, False, [[2, "a\nb"], [10, "a\nc"]]),
    ("[a:b:2] [c:d:2]", 10, None, False, [[2, "a c"], [10, "b d"]]),
    ("[a:b:0.25]", 20, None, False, [[5, "a"], [20, "b"]]),
    ("[a:b:5]", 20, None, False, [[5, "a"], [20, "b"]]),
    ("[a:b:1]", 10, None, False, [[1, "a"], [10, "b"]]),
    ("[a:b:1.0]", 10, None, False, [[10, "a"]]),  # a fraction: 1.0 of the steps = never switches
    ("[a:b:0.3]", 10, None, False, [[3, "a"], [10, "b"]]),  # 0.3 * 10 = 3.0000000000000004
    ("[a:b:0.7]", 10, None, False, [[7, "a"], [10, "b"]]),
    ("[a:b:0.29]", 10, None, False, [[2, "a"], [10, "b"]]),  # truncated, not rounded
    ("[a:b:.5]", 3, None, False, [[1, "a"], [3, "b"]]),
    ("[a:b:0.05]", 10, None, False, [[10, "b"]]),  # below one step: switched from the start
    ("[a:b:0]", 10, None, False, [[10, "b"]]),
    ("[a:b:-1]", 10, None, False, [[10, "b"]]),
    ("[a:b:15]", 10, None, False, [[10, "a"]]),
    ("[a:b:2.5]", 10, None, False, [[10, "a"]]),
    ("[a:b:1e1]", 10, None, False, [[10, "a"]]),
    (FANTASY, 100, None, False, [
        [25, "fantasy landscape with a mountain and an oak in foreground shoddy"],
        [50, "fantasy landscape with a lake and an oak in foreground in background shoddy"],
        [60, "fantasy landscape with a lake and an oak in foreground in background masterful"],
        [75, "fantasy landscape with a lake and an oak in background masterful"],
        [100, "fantasy landscape with a lake and a christmas tree in background masterful"]]),
    # alternation
    ("[a|(b:1.1)]", 10, None, False, alternating(["a", "(b:1.1)"], 10)),
    ("[fe|]male", 10, None, False, alternating(["female", "male"], 10)),
    ("[fe|||]male", 10, None, False, alternating(["female", "male", "male", "male"], 10)),
    ("[a|b|c] d", 3, None, False, [[1, "a d"], [2, "b d"], [3, "c d"]]),
    ("[a|b|c|d]", 2, None, False, [[1, "a"], [2, "b"]]),
    ("[[a|b]|c]", 4, None, False, [[1, "a"], [2, "c"], [3, "a"], [4, "c"]]),
    ("[[a|b]:c:2]", 4, None, False, [[1, "a"], [2, "b"], [3, "c"], [4, "c"]]),
    # hires pass (new timelines)
    ("a [b:.5] c", 10, 10, False, [[10, "a b c"]]),
    ("a [b:1.5] c", 10, 10, False, [[5, "a  c"], [10, "a b c"]]),
    ("[a:b:1.25]", 10, 20, False, [[5, "a"], [20, "b"]]),
    ("[a:b:15]", 10, 20, False, [[5, "a"], [20, "b"]]),
    ("[a:b:5]", 10, 20, False, [[20, "b"]]),
    ("[a:b:10]", 10, 10, False, [[10, "b"]]),
    ("[a:b:1.0]", 10, 10, False, [[10, "b"]]),
    ("[a:b:2.0]", 10, 10, False, [[10, "a"]]),
    ("[a|b]", 10, 4, False, alternating(["a", "b"], 4)),
    # old timelines
    ("[a:b:0.5]", 10, None, True, [[5, "a"], [10, "b"]]),
    ("[a:b:3]", 10, None, True, [[3, "a"], [10, "b"]]),
    ("[a:b:1.0]", 10, None, True, [[1, "a"], [10, "b"]]),
    ("[a:b:2.5]", 10, None, True, [[2, "a"], [10, "b"]]),
    ("[a:b:15]", 10, 20, True, [[10, "a"]]),  # no offset, and the first pass's step count
    ("[a:b:0.5]", 10, 20, True, [[5, "a"], [10, "b"]]),
]


@pytest.mark.parametrize("prompt,steps,hires,old,expected", CASES, ids=[f"{c[0]!r}-{c[1]}-{c[2]}-{c[3]}" for c in CASES])
def test_schedule(prompt, steps, hires, old, expected):
    assert get_learned_conditioning_prompt_schedules([prompt], steps, hires, old) == [expected]


def test_several_prompts_keep_their_order_and_duplicates():
    got = get_learned_conditioning_prompt_schedules(["a [b:2]", "c", "a [b:2]"], 10)
    assert got == [[[2, "a "], [10, "a b"]], [[10, "c"]], [[2, "a "], [10, "a b"]]]
    got[0][0][1] = "changed"
    assert got[2][0][1] == "a "  # each entry is its own list


def test_old_timelines_flag():
    assert not old_timelines_differ(["[a:b:3]", "x"], 10)
    assert old_timelines_differ(["[a:b:1.0]"], 10)
    assert old_timelines_differ(["[a:b:15]"], 10, 20)


def test_compat_module_names():
    from modules import prompt_parser

    assert prompt_parser.get_learned_conditioning_prompt_schedules(["[a:b:3]"], 10) == [[[3, "a"], [10, "b"]]]
    assert prompt_parser.schedule_parser.parse("a").data == "start"
