"""Prompt comments: from ``#`` to the end of the line is dropped (setting ``enable_prompt_comments``).

Applied to every prompt before generation and before token counting.  A line
that is only a comment disappears with its line break; a comment after text
leaves the text and a line break.
"""
from __future__ import annotations

import re

# First a comment that starts the text or a line, with the line break on each side
# (one is put back); then any comment left, up to and including its line break.
_WHOLE_LINE = re.compile(r"(^|\n)#[^\n]*(\n|$)")
_REST_OF_LINE = re.compile(r"#[^\n]*(\n|$)")


def strip_comments(text: str) -> str:
    """``text`` without its ``#`` comments, exactly as A1111 strips them.

    >>> strip_comments("a cat\\n# old idea\\nin a hat")
    'a cat\\nin a hat'
    """
    text = _WHOLE_LINE.sub("\n", text)
    return _REST_OF_LINE.sub("\n", text)


def strip_comments_if_enabled(text: str, enabled: bool) -> str:
    """:func:`strip_comments` when the setting is on, else ``text`` unchanged."""
    return strip_comments(text) if enabled else text
