"""Writing the infotext: ``prompt``, ``Negative prompt: ...``, then ``Key: value, Key: value``.

The format is A1111's: the prompt line(s), a ``Negative prompt:`` line when
there is one, and one line of parameters.  A value holding a comma, a colon or
a line break is written as a JSON string (non-ASCII kept); ``None`` values are
left out; a value equal to its key is written as the bare key.
"""
from __future__ import annotations

import json
from typing import Any, Mapping


def _needs_quotes(text: str) -> bool:
    if "," in text or "\n" in text or ":" in text:
        return True
    # A1111 writes these bare and reads them back changed (the quotes are taken off, leading
    # blanks are lost); quoting them is still read right by A1111 and keeps the value exact
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return True
    return text[:1].isspace()


def quote(text: Any) -> Any:
    """``text`` as it goes after ``Key: ``: JSON-quoted when it holds ``,``, ``:`` or a line break.

    Anything else comes back unchanged (not even turned into a string), as in A1111.
    """
    if not _needs_quotes(str(text)):
        return text
    try:
        return json.dumps(text, ensure_ascii=False)
    except TypeError:
        # A1111 fails the whole generation here; the text of the object is the next best thing
        return json.dumps(str(text), ensure_ascii=False)


def unquote(text: str) -> str:
    """The inverse of :func:`quote`: a ``"..."`` value is JSON-decoded when it can be."""
    if len(text) == 0 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def format_params(params: Mapping[str, Any]) -> str:
    """The parameters line: ``Key: value`` pairs joined with ``", "`` in the mapping's order."""
    return ", ".join(
        key if key == value else f"{key}: {quote(value)}"
        for key, value in params.items()
        if value is not None
    )


def build_infotext(prompt: str, negative_prompt: str | None, params: Mapping[str, Any]) -> str:
    """The whole infotext for one picture (A1111's ``create_infotext`` layout), stripped."""
    negative = f"\nNegative prompt: {negative_prompt}" if negative_prompt else ""
    return f"{prompt}{negative}\n{format_params(params)}".strip()
