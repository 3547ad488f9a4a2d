"""Prompt editing: which text the prompt stands for at each sampling step.

Syntax (A1111's lark grammar, same structure so that ambiguous prompts resolve
the same way):

- ``[from:to:when]`` uses ``from`` up to step ``when``, then ``to``;
  ``[to:when]`` adds ``to`` after ``when``; ``[from::when]`` removes ``from``.
- ``[a|b|c]`` alternates per step (empty options allowed: ``[fe|]male``).
- ``(...)``, ``(...:...)`` and ``[...]`` are kept verbatim for the emphasis
  parser; stray brackets and colons are literal; a prompt that does not parse
  is used as is for every step.

``when``: with the default ("new") timelines a number containing a decimal
point is a fraction of the steps and any other number an absolute step; in the
hires pass, absolute steps count from the start of the first pass and fractions
run from 1.0 to 2.0.  ``use_old_scheduling`` restores the pre-1.6 rule: below 1
is a fraction, otherwise a step, and no hires offsets.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:
    import lark

# Written for lark's default Earley parser.  `start` keeps stray brackets/colons as
# literal tokens; `emphasized` keeps its brackets ("!") so the text reaches the
# emphasis parser unchanged; optional parts produce None placeholders.
_GRAMMAR = r"""
!start: (prompt | /[][():]/+)*

prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*

!emphasized: "(" prompt ")"
           | "(" prompt ":" prompt ")"
           | "[" prompt "]"

scheduled: "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"

alternate: "[" prompt ("|" [prompt])+ "]"

WHITESPACE: /\s+/

plain: /([^\\\[\]():|]|\\.)+/

%import common.SIGNED_NUMBER -> NUMBER
"""


@functools.cache
def get_schedule_parser() -> "lark.Lark":
    """The compiled prompt-editing grammar (built on first use)."""
    import lark

    return lark.Lark(_GRAMMAR)


@functools.lru_cache(maxsize=512)
def _parse(prompt: str) -> Any:
    """The parse tree of ``prompt``, or ``None`` when it does not parse (trees are never mutated)."""
    import lark

    try:
        return get_schedule_parser().parse(prompt)
    except lark.exceptions.LarkError:
        return None


def _is_tree(node: Any) -> bool:
    return hasattr(node, "data") and hasattr(node, "children")


def _walk(tree: Any) -> Iterable[Any]:
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in node.children if _is_tree(child))


def _edit_parts(node: Any) -> tuple[Any, Any, str]:
    """``(before, after, number_text)`` of a ``scheduled`` node; ``before`` is None for ``[to:when]``.

    With lark's placeholders the children are always ``[before, after,
    whitespace, NUMBER, whitespace]``, absent parts being ``None``.
    """
    number_at = next(i for i, c in enumerate(node.children) if getattr(c, "type", None) == "NUMBER")
    number = str(node.children[number_at])
    if number_at == 3:
        return node.children[0], node.children[1], number
    texts = [c for c in node.children[:number_at] if _is_tree(c)]
    return (texts[0] if len(texts) > 1 else None), texts[-1], number


class _Timeline:
    """How a ``when`` number becomes a step, for one call."""

    def __init__(self, base_steps: int, hires_steps: int | None, use_old_scheduling: bool) -> None:
        self.old = use_old_scheduling
        if hires_steps is None or use_old_scheduling:
            self.steps, self.int_offset, self.float_offset = base_steps, 0, 0.0
        else:
            self.steps, self.int_offset, self.float_offset = hires_steps, base_steps, 1.0

    def end_step(self, number_text: str) -> int:
        value = float(number_text)
        if self.old:
            value = value * self.steps if value < 1 else value
        elif "." in number_text:
            value = (value - self.float_offset) * self.steps
        else:
            value = value - self.int_offset
        # Clamped before int() so huge exponents cannot overflow; below one step means
        # "already switched", which -1 keeps.
        return int(min(max(value, -1.0), float(self.steps)))


def _boundaries(tree: Any, timeline: _Timeline) -> tuple[list[int], dict[int, int]]:
    steps = {timeline.steps}
    whens: dict[int, int] = {}
    for node in _walk(tree):
        if node.data == "scheduled":
            when = timeline.end_step(_edit_parts(node)[2])
            whens[id(node)] = when
            if when >= 1:
                steps.add(when)
        elif node.data == "alternate":
            steps.update(range(1, timeline.steps + 1))
    return sorted(steps), whens


def _text_at(node: Any, step: int, whens: dict[int, int], out: list[str]) -> None:
    if node is None:
        return
    if not _is_tree(node):
        out.append(str(node))
        return
    kind = node.data
    if kind == "scheduled":
        before, after, _ = _edit_parts(node)
        _text_at(before if step <= whens[id(node)] else after, step, whens, out)
    elif kind == "alternate":
        options = list(node.children)
        _text_at(options[(step - 1) % len(options)], step, whens, out)
    elif kind == "plain":
        out.append(str(node.children[0]))
    else:
        for child in node.children:
            _text_at(child, step, whens, out)


def prompt_schedule(prompt: str, base_steps: int, hires_steps: int | None = None,
                    use_old_scheduling: bool = False) -> list[list]:
    """``[[end_step, text], ...]`` for one prompt (see :func:`get_learned_conditioning_prompt_schedules`)."""
    timeline = _Timeline(base_steps, hires_steps, use_old_scheduling)
    tree = _parse(prompt)
    if tree is None:
        return [[timeline.steps, prompt]]
    boundaries, whens = _boundaries(tree, timeline)
    schedule = []
    for step in boundaries:
        out: list[str] = []
        _text_at(tree, step, whens, out)
        schedule.append([step, "".join(out)])
    return schedule


def get_learned_conditioning_prompt_schedules(prompts: Sequence[str], base_steps: int, hires_steps: int | None = None,
                                              use_old_scheduling: bool = False) -> list[list[list]]:
    """For each prompt, ``[[end_step, text], ...]``: ``text`` is used up to and including ``end_step``.

    >>> get_learned_conditioning_prompt_schedules(["a [b:c:3] d"], 10)
    [[[3, 'a b d'], [10, 'a c d']]]

    ``hires_steps`` (the second pass's step count) switches to the hires
    timeline: the last end step is ``hires_steps`` and the offsets described in
    the module docstring apply, unless ``use_old_scheduling``.
    """
    computed: dict[str, list[list]] = {}
    result = []
    for prompt in prompts:
        if prompt not in computed:
            computed[prompt] = prompt_schedule(prompt, base_steps, hires_steps, use_old_scheduling)
        result.append([list(entry) for entry in computed[prompt]])
    return result


def old_timelines_differ(prompts: Sequence[str], base_steps: int, hires_steps: int | None = None) -> bool:
    """Whether the old and new ``when`` rules give different schedules (infotext ``Old prompt editing timelines``)."""
    old = get_learned_conditioning_prompt_schedules(prompts, base_steps, hires_steps, True)
    new = get_learned_conditioning_prompt_schedules(prompts, base_steps, hires_steps, False)
    return old != new
