"""AND with weights (SPEC 4.3) and # comments (SPEC 4.8)."""
from __future__ import annotations

import pytest

from modules.prompting.comments import strip_comments, strip_comments_if_enabled
from modules.prompting.composable import get_multicond_prompt_list
from modules.prompting.conditioning import SdConditioning

# (prompts, expected indexes, expected flat list)
AND_CASES = [
    (["a cat :1.2 AND a dog :0.8"], [[(0, 1.2), (1, 0.8)]], ["a cat", " a dog"]),
    (["a AND b", "b AND a"], [[(0, 1.0), (1, 1.0)], [(2, 1.0), (3, 1.0)]], ["a", " b", "b", " a"]),
    (["x", "x"], [[(0, 1.0)], [(0, 1.0)]], ["x"]),
    (["ANDROID and cat"], [[(0, 1.0)]], ["ANDROID and cat"]),
    (["a,AND,b"], [[(0, 1.0), (1, 1.0)]], ["a,", ",b"]),
    (["cat:2"], [[(0, 2.0)]], ["cat"]),
    (["cat :-0.5"], [[(0, -0.5)]], ["cat"]),
    (["cat: .5"], [[(0, 0.5)]], ["cat"]),
    (["cat:5."], [[(0, 5.0)]], ["cat"]),
    (["(cat:1.2)"], [[(0, 1.0)]], ["(cat:1.2)"]),
    (["a AND"], [[(0, 1.0), (1, 1.0)]], ["a", ""]),
    (["a\nAND\nb :2"], [[(0, 1.0), (1, 2.0)]], ["a", "\nb"]),
    (["a [b:c:0.5"], [[(0, 0.5)]], ["a [b:c"]),
]


@pytest.mark.parametrize("prompts,indexes,flat", AND_CASES, ids=[repr(c[0]) for c in AND_CASES])
def test_multicond_prompt_list(prompts, indexes, flat):
    got_indexes, got_flat, index_of = get_multicond_prompt_list(prompts)
    assert got_indexes == indexes
    assert got_flat == flat
    assert index_of == {text: i for i, text in enumerate(flat)}


def test_multicond_keeps_sd_conditioning_attributes():
    prompts = SdConditioning(["a AND b"], is_negative_prompt=True, width=640, height=512)
    _, flat, _ = get_multicond_prompt_list(prompts)
    assert isinstance(flat, SdConditioning) and flat == ["a", " b"]
    assert (flat.is_negative_prompt, flat.width, flat.height) == (True, 640, 512)


COMMENT_CASES = [
    ("a cat\n# old idea\nin a hat", "a cat\nin a hat"),
    ("# first\nrest", "\nrest"),
    ("a, b # note\nc", "a, b \nc"),
    ("a # x", "a \n"),
    ("a\n#1\n#2\nb", "a\n\nb"),  # the second line is caught by the mid-line rule
    ("a#b", "a\n"),
    ("#only", "\n"),
    ("no comment", "no comment"),
]


@pytest.mark.parametrize("text,expected", COMMENT_CASES, ids=[repr(c[0]) for c in COMMENT_CASES])
def test_strip_comments(text, expected):
    assert strip_comments(text) == expected


def test_comments_setting_off_keeps_text():
    assert strip_comments_if_enabled("a # b", False) == "a # b"
    assert strip_comments_if_enabled("a # b", True) == "a \n"
