"""parse_prompt_attention: expected runs and weights worked out from A1111's rules (SPEC 4.1).

Weights are written as the products A1111 computes (e.g. ``1.1 * 1.1``), so
the comparison is exact, floating-point rounding included.
"""
from __future__ import annotations

import pytest

from modules.prompting.attention import parse_prompt_attention

DOWN = 1 / 1.1

CASES = [
    ("normal text", [["normal text", 1.0]]),
    ("an (important) word", [["an ", 1.0], ["important", 1.1], [" word", 1.0]]),
    ("(unbalanced", [["unbalanced", 1.1]]),
    ("\\(literal\\]", [["(literal]", 1.0]]),
    ("(unnecessary)(parens)", [["unnecessaryparens", 1.1]]),
    ("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
     [["a ", 1.0], ["house", 1.5730000000000004], [" ", 1.1], ["on", 1.0], [" a ", 1.1], ["hill", 0.55],
      [", sun, ", 1.1], ["sky", 1.4641000000000006], [".", 1.1]]),
    ("", [["", 1.0]]),
    ("[a]", [["a", DOWN]]),
    ("[unbalanced", [["unbalanced", DOWN]]),
    ("((a))", [["a", 1.1 * 1.1]]),
    ("(a:1.5)", [["a", 1.5]]),
    ("(a: 1.5 )", [["a", 1.5]]),
    ("(a:-1)", [["a", -1.0]]),
    ("(a:0)", [["a", 0.0]]),
    ("(a:+2)", [["a", 2.0]]),
    ("((a:1.5))", [["a", 1.5 * 1.1]]),
    ("[(a:1.5)]", [["a", 1.5 * DOWN]]),
    ("((a:2)b:1.5)", [["a", 3.0], ["b", 1.5]]),
    ("a) b", [["a) b", 1.0]]),
    ("a] b", [["a] b", 1.0]]),
    ("a (b [c", [["a ", 1.0], ["b ", 1.1], ["c", 1.1 * DOWN]]),
    ("a ((b) c", [["a ", 1.0], ["b", 1.1 * 1.1], [" c", 1.1]]),
    ("(a) ", [["a", 1.1], [" ", 1.0]]),
    ("(a)(b:1.1)", [["ab", 1.1]]),
    ("\\\\", [["\\", 1.0]]),
    ("a\\b", [["ab", 1.0]]),  # a lone backslash disappears
    ("\\(a\\)", [["(a)", 1.0]]),
    ("(\\)a)", [[")a", 1.1]]),
    ("a:b", [["a:b", 1.0]]),
    ("(a:b)", [["a:b", 1.1]]),
    ("(a:1.3", [["a:1.3", 1.1]]),  # no closing bracket: the colon is text
    ("a:1.3)", [["a:1.3)", 1.0]]),  # weight without an opener: text
    ("[a:b:3]", [["a:b:3", DOWN]]),
    ("a BREAK b", [["a", 1.0], ["BREAK", -1], ["b", 1.0]]),
    ("BREAK", [["", 1.0], ["BREAK", -1], ["", 1.0]]),
    ("a\nBREAK\nb", [["a", 1.0], ["BREAK", -1], ["b", 1.0]]),
    ("aBREAK b", [["aBREAK b", 1.0]]),
    ("a break b", [["a break b", 1.0]]),
    # Inside brackets the BREAK marker is multiplied too, so it no longer acts as BREAK (A1111 quirk).
    ("(a BREAK b)", [["a", 1.1], ["BREAK", -1 * 1.1], ["b", 1.1]]),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[repr(c[0]) for c in CASES])
def test_parse_prompt_attention(text, expected):
    assert parse_prompt_attention(text) == expected


def test_malformed_weight_is_text_instead_of_an_error():
    # A1111 raises ValueError here; we keep the characters and the bracket stays open.
    assert parse_prompt_attention("(a:1.2.3)") == [["a:1.2.3)", 1.1]]
