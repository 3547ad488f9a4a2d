"""Prompt editing: which text the prompt stands for at each sampling step.

Syntax (A1111's prompt-editing grammar):

- ``[from:to:when]`` uses ``from`` up to step ``when``, then ``to``;
  ``[to:when]`` adds ``to`` after ``when``; ``[from::when]`` removes ``from``.
- ``[a|b|c]`` alternates per step (empty options allowed: ``[fe|]male``).
- ``(...)``, ``(...:...)`` and ``[...]`` are kept verbatim for the emphasis
  parser; stray brackets and colons are literal; ``\\(`` and the like are
  escapes; a prompt that does not parse (a ``|`` outside an alternation, a
  ``\\`` at the very end) is used as is for every step.

``when``: with the default ("new") timelines a number containing a decimal
point is a fraction of the steps and any other number an absolute step; in the
hires pass, absolute steps count from the start of the first pass and fractions
run from 1.0 to 2.0.  ``use_old_scheduling`` restores the pre-1.6 rule: below 1
is a fraction, otherwise a step, and no hires offsets.

The text is read by :mod:`.schedule_syntax` (lark's reading of A1111's grammar, in linear
time); this module turns the reading into per-step texts.
"""
from __future__ import annotations

import bisect
from typing import Any, Callable, Sequence, Union

from modules.prompting.limits import check_prompt_limits
from modules.prompting.schedule_syntax import (NUMBER, STRUCTURE, WHITESPACE, PromptSyntaxError, ScheduleParser,  # noqa: F401
                                               Segment, Token, Tree, read_segments)

_SCHEDULE_PARSER = ScheduleParser()


def get_schedule_parser() -> ScheduleParser:
    """The prompt-editing parser (``modules.prompt_parser.schedule_parser``)."""
    return _SCHEDULE_PARSER


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


_Compiled = Union[str, list]
"""A prompt ready for rendering: text, or a list of parts; a part is text,
``("s", when, before, after)`` or ``("a", options)`` (before/after/options compiled)."""


class _Dynamics:
    """What makes the text change between steps: the edits' end steps and the alternations' lengths."""

    def __init__(self, timeline: _Timeline) -> None:
        self.timeline = timeline
        self.boundaries = {timeline.steps}
        """Steps that end a schedule entry: every ``when``, even inside an option never used, and every
        step when there is an alternation (as in A1111)."""
        self.whens: set[int] = set()
        self.periods: set[int] = set()

    def edit(self, number: str) -> int:
        """Record a ``[from:to:when]``; returns its end step."""
        when = self.timeline.end_step(number)
        self.whens.add(when)
        if when >= 1:
            self.boundaries.add(when)
        return when

    def alternation(self, options: int) -> None:
        """Record a ``[a|b|...]`` of ``options`` options."""
        if not self.periods:
            self.boundaries.update(range(1, self.timeline.steps + 1))
        self.periods.add(options)

    def choices(self) -> Callable[[int], tuple]:
        """``step -> key``: steps with the same key choose the same side of every edit and the same option
        of every alternation, hence the same text (an alternation of n options cycles every n steps)."""
        whens = sorted(self.whens)
        periods = sorted(self.periods)
        return lambda step: (bisect.bisect_left(whens, step), tuple((step - 1) % n for n in periods))


def _compile(text: str, segments: list[Segment], dynamics: _Dynamics) -> _Compiled:
    """The parsed prompt with its static text joined; its edits and alternations recorded in ``dynamics``.

    Linear and iterative.
    """
    root: list = []
    for start, end, is_prompt in segments:
        if not is_prompt:
            root.append(text[start:end])
            continue
        # None marks an open "(" (its text stays inline); a list frame is an open "[":
        # [the list it sits in, its segments, its separators].
        frames: list[Any] = []
        current = root
        i = start
        while i < end:
            char = text[i]
            if char == "(":
                current.append("(")
                frames.append(None)
                i += 1
            elif char == "[":
                segment: list = []
                frames.append([current, [segment], []])
                current = segment
                i += 1
            elif char == ")":
                frames.pop()
                current.append(")")
                i += 1
            elif char == ":" or char == "|":
                frame = frames[-1]
                if frame is None:
                    current.append(char)
                else:
                    frame[2].append(char)
                    current = []
                    frame[1].append(current)
                i += 1
            elif char == "]":
                current, parts, separators = frames.pop()
                if not separators:
                    current.append("[")
                    current.append(parts[0])  # spliced by _finish
                    current.append("]")
                elif separators[0] == "|":
                    dynamics.alternation(len(parts))
                    current.append(("a", parts))
                else:
                    tail = "".join(_finish(parts[-1]))  # type: ignore[arg-type]
                    ws = WHITESPACE.match(tail)
                    number = NUMBER.match(tail, ws.end() if ws else 0)
                    assert number is not None
                    when = dynamics.edit(number.group(0))
                    two = len(separators) == 2
                    current.append(("s", when, parts[0] if two else None, parts[1] if two else parts[0]))
                i += 1
            elif char == "\\":
                current.append(text[i:i + 2])
                i += 2
            else:
                match = STRUCTURE.search(text, i, end)
                stop = match.start() if match else end
                current.append(text[i:stop])
                i = stop
    return _finish(root)


def _finish(parts: list | None) -> _Compiled:
    """Splice nested lists, join neighbouring text, compile the parts of schedules and alternations."""
    if parts is None:
        return ""
    out: list = []
    texts: list[str] = []
    stack = [iter(parts)]
    while stack:
        for part in stack[-1]:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, list):
                stack.append(iter(part))
                break
            else:
                if texts:
                    out.append("".join(texts))
                    texts = []
                if part[0] == "s":
                    out.append(("s", part[1], _finish(part[2]), _finish(part[3])))
                else:
                    out.append(("a", [_finish(option) for option in part[1]]))
        else:
            stack.pop()
    if texts:
        out.append("".join(texts))
    if not out:
        return ""
    return out[0] if len(out) == 1 and isinstance(out[0], str) else out


def _render(compiled: _Compiled, step: int, out: list[str]) -> None:
    if compiled.__class__ is str:
        out.append(compiled)  # type: ignore[arg-type]
        return
    append = out.append
    for part in compiled:
        if part.__class__ is str:
            append(part)
            continue
        if part[0] == "s":
            chosen = part[2] if step <= part[1] else part[3]
        else:
            options = part[1]
            chosen = options[(step - 1) % len(options)]
        if chosen.__class__ is str:
            append(chosen)
        else:
            _render(chosen, step, out)


def prompt_schedule(prompt: str, base_steps: int, hires_steps: int | None = None,
                    use_old_scheduling: bool = False, key: str = "prompt") -> list[list]:
    """``[[end_step, text], ...]`` for one prompt (see :func:`get_learned_conditioning_prompt_schedules`).

    Raises :class:`~modules.prompting.limits.PromptLimitError` (``key`` names
    the field) when the prompt is over the limits.
    """
    check_prompt_limits(prompt, key)
    timeline = _Timeline(base_steps, hires_steps, use_old_scheduling)
    segments = read_segments(prompt)
    if segments is None:
        return [[timeline.steps, prompt]]
    dynamics = _Dynamics(timeline)
    compiled = _compile(prompt, segments, dynamics)
    choices = dynamics.choices()
    rendered: dict[tuple, str] = {}
    schedule = []
    for step in sorted(dynamics.boundaries):
        key = choices(step)
        if key not in rendered:
            out: list[str] = []
            _render(compiled, step, out)
            rendered[key] = "".join(out)
        schedule.append([step, rendered[key]])
    return schedule


def get_learned_conditioning_prompt_schedules(prompts: Sequence[str], base_steps: int, hires_steps: int | None = None,
                                              use_old_scheduling: bool = False) -> list[list[list]]:
    """For each prompt, ``[[end_step, text], ...]``: ``text`` is used up to and including ``end_step``.

    >>> get_learned_conditioning_prompt_schedules(["a [b:c:3] d"], 10)
    [[[3, 'a b d'], [10, 'a c d']]]

    ``hires_steps`` (the second pass's step count) switches to the hires
    timeline: the last end step is ``hires_steps`` and the offsets described in
    the module docstring apply, unless ``use_old_scheduling``.  Every prompt is
    checked against :mod:`~modules.prompting.limits` first (``negative_prompt``
    is named in the error when ``prompts`` is a negative
    :class:`~modules.prompting.sd_conditioning.SdConditioning`).
    """
    key = "negative_prompt" if getattr(prompts, "is_negative_prompt", False) else "prompt"
    for prompt in prompts:
        check_prompt_limits(prompt, key)
    computed: dict[str, list[list]] = {}
    result = []
    for prompt in prompts:
        if prompt not in computed:
            computed[prompt] = prompt_schedule(prompt, base_steps, hires_steps, use_old_scheduling, key)
        result.append([list(entry) for entry in computed[prompt]])
    return result


def old_timelines_differ(prompts: Sequence[str], base_steps: int, hires_steps: int | None = None) -> bool:
    """Whether the old and new ``when`` rules give different schedules (infotext ``Old prompt editing timelines``)."""
    old = get_learned_conditioning_prompt_schedules(prompts, base_steps, hires_steps, True)
    new = get_learned_conditioning_prompt_schedules(prompts, base_steps, hires_steps, False)
    return old != new
