"""Bounds on prompt text, so that no prompt can tie up the parser, the tokenizer or memory.

A1111 has none: a prompt of 100,000 ``(`` or 35 KB of ``BREAK`` keeps its worker busy for
minutes and takes gigabytes.  Every prompt (positive, negative, styles applied, each line of a
script) passes :func:`check_prompt_limits` before it is parsed (the scheduling parse and the
conditioning of a prompt list call it, so callers that forget are covered); the API also calls it
when a request arrives, so an asynchronous job is refused at once rather than failing later.

The parsers themselves are linear whatever the input (see ``modules.prompting.scheduling``); the
limits bound what follows them: the text encoder's chunks and the conds the sampler attends to.
"""
from __future__ import annotations

MAX_PROMPT_CHARS = 65_536
"""Characters in one prompt (A1111's UI has no limit; real prompts stay under a few thousand)."""
MAX_PROMPT_NESTING = 64
"""Open brackets of any kind, ``( [ {``, nested inside each other at one point of the prompt."""
MAX_PROMPT_BREAKS = 512
"""``BREAK`` keywords in one prompt: each starts a new 75-token chunk the text encoder runs on."""
MAX_PROMPT_CHUNKS = 1024
"""75-token chunks one prompt may take (the text encoder runs once per chunk, and the cond grows by 77
vectors per chunk).  The character limit alone does not bound this: CLIP's byte-level tokenizer makes up
to three tokens of one CJK character, so 65,536 of them would be 2,622 chunks.  Checked when a prompt is
chunked (:func:`modules.prompting.chunking.tokenize_line`), since only the tokenizer knows the count."""


class PromptLimitError(ValueError):
    """A prompt is over one of the limits above; ``key`` names the request field (``prompt``, ``negative_prompt``)."""

    def __init__(self, message: str, key: str = "prompt") -> None:
        super().__init__(message)
        self.key = key


def check_prompt_limits(text: str, key: str = "prompt") -> None:
    """Raise :class:`PromptLimitError` when ``text`` is longer, deeper or has more ``BREAK`` than allowed.

    Linear in the length of ``text``; escaped brackets (``\\(``) do not count toward the nesting.
    """
    if not isinstance(text, str):
        return
    if len(text) > MAX_PROMPT_CHARS:
        raise PromptLimitError(f"{key} is {len(text)} characters long; the limit is {MAX_PROMPT_CHARS}", key)
    depth = deepest = 0
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}" and depth:
            depth -= 1
    if deepest > MAX_PROMPT_NESTING:
        raise PromptLimitError(f"{key} nests brackets {deepest} deep; the limit is {MAX_PROMPT_NESTING}", key)
    breaks = text.count("BREAK")
    if breaks > MAX_PROMPT_BREAKS:
        raise PromptLimitError(f"{key} has {breaks} BREAK keywords; the limit is {MAX_PROMPT_BREAKS}", key)
