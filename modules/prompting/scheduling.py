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

How a prompt is read
--------------------
A1111 parses with lark's Earley parser and this grammar (kept, as the test
oracle, in ``tests/prompting/lark_oracle.py``)::

    start: (prompt | /[][():]/+)*
    prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*
    emphasized: "(" prompt ")" | "(" prompt ":" prompt ")" | "[" prompt "]"
    scheduled: "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
    alternate: "[" prompt ("|" [prompt])+ "]"

Inside one ``prompt`` the structure is unique (every bracket is structural,
so bracket matching and colon counts decide it).  The only real ambiguity is at
the top: which stretches are prompts and which brackets and colons are literal
(``x[a:1]](`` or ``x[a:1]]]``).  lark settles it by the order in which its
Earley loop happened to build the alternatives, which makes the answer depend
on things such as the parity of a run of stray brackets; its cost is cubic in
the prompt length (2,000 ``(`` took minutes and gigabytes).

:func:`_segment` reproduces that choice in one left-to-right pass.  It keeps a
constant-size summary of the Earley state instead of the state itself:

- the threads reading a run of literal characters (``U`` threads), as the
  first and last of their ordered list and its length: lark reverses that list
  at every character and inserts the new thread first or second, so the middle
  is never observed;
- for the prompt threads waiting at one bracket depth (a *group*), where the
  thread that starts the bracket's segment (``B``) stands relative to the
  threads that are also valid top-level prefixes (``S``), in the same reversed
  order;
- for the items that can read the next stray character, whether lark queued
  them before, between or after the literal threads (a *zone*), which decides
  whether a closing bracket completes the top level before the literal threads
  do.

Only the choice between "the last prompt ends here" and "these characters are
literal" changes a schedule (tests/prompting/test_scheduling_fuzz.py compares
the result with lark's on random prompts); among several prompts ending at the
same place any one gives the same texts.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Sequence, Union

from modules.prompting.limits import check_prompt_limits

# lark's common.SIGNED_NUMBER, with its alternatives in lark's order (a regex
# alternation takes the first alternative that matches, not the longest).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+[eE][+-]?[0-9]+|(?:[0-9]+\.(?:[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+)")
_PLAIN = re.compile(r"(?:[^\\\[\]():|]|\\.)+")
_WHITESPACE = re.compile(r"\s+")
_LITERAL_CHARS = frozenset("[]():")

# Where lark queued the items that can read the next character, relative to the
# literal (U) threads queued at the same position.  ``None`` = no such item.
_BEFORE, _BETWEEN, _AFTER, _NONE = 0, 1, 2, 3


class PromptSyntaxError(ValueError):
    """The prompt does not parse (only :meth:`ScheduleParser.parse` raises it; schedules fall back to the raw text)."""


class _Group:
    """The prompt threads at depth 0 of one bracket segment (or of the top level), in lark's queue order.

    ``has_b``: the segment's own thread is in the group (False at the top level);
    ``b_s``: that thread is also a valid top-level prefix; ``s_before`` /
    ``s_after``: some top-level-valid thread is queued before / after it;
    ``rep``: the start of one top-level-valid thread (None: none);
    ``zero``: the thread that started at position 0 is in the group.
    """

    __slots__ = ("has_b", "b_s", "s_before", "s_after", "rep", "zero")

    def __init__(self, has_b: bool, rep: int | None, zero: bool = False) -> None:
        self.has_b = has_b
        self.b_s = rep is not None
        self.s_before = False
        self.s_after = False
        self.rep = rep
        self.zero = zero

    def advanced(self, fresh: int | None, fresh_at: int, position: int) -> "_Group":
        """The group after one element completed: lark processes it in reverse, so the order flips.

        ``fresh_at`` says where the thread starting at ``position`` joins (``fresh``
        is None when no thread starts there): 0 first, 1 right after the first
        top-level-valid member, 2 last.
        """
        group = _Group.__new__(_Group)
        group.has_b, group.b_s, group.rep, group.zero = self.has_b, self.b_s, self.rep, self.zero
        group.s_before, group.s_after = self.s_after, self.s_before
        if fresh is not None:
            if group.has_b:
                if fresh_at == 0:
                    group.s_before = True
                elif fresh_at == 2 or not group.s_before:
                    group.s_after = True
            if group.rep is None:
                group.rep = position
        return group


class _Bracket:
    """An open ``(`` or ``[`` whose content so far can still be part of a prompt.

    ``state``: ``seg1`` (first segment), ``seg2`` (after the colon of ``(a:`` or
    the first colon of ``[a:``), ``alt`` (after a ``|``), ``tail`` (after the
    second colon of ``[a:b:``: only the number is left).  ``parent`` is the group
    waiting for this bracket to close; ``group`` the threads inside the current
    segment (in ``tail`` state: top-level threads that started after the colon).
    ``tail_close`` is the position of the ``]`` that ends a valid ``when``
    number after the last colon, if there is one.
    """

    __slots__ = ("kind", "state", "parent", "group", "tail_close")

    def __init__(self, kind: str, parent: _Group, group: _Group) -> None:
        self.kind = kind
        self.state = "seg1"
        self.parent = parent
        self.group: _Group | None = group
        self.tail_close: int | None = None


def _tail_close(text: str, pos: int) -> int | None:
    """Position of the ``]`` after ``[WHITESPACE] NUMBER [WHITESPACE]`` starting at ``pos``, or None."""
    match = _WHITESPACE.match(text, pos)
    if match:
        pos = match.end()
    match = _NUMBER.match(text, pos)
    if not match:
        return None
    pos = match.end()
    match = _WHITESPACE.match(text, pos)
    if match:
        pos = match.end()
    return pos if pos < len(text) and text[pos] == "]" else None


def _segment(text: str) -> list[tuple[int, int, bool]] | None:
    """The top-level reading of ``text``: ``[(start, end, is_prompt), ...]`` in order, or None if it does not parse.

    Linear time and memory.  ``back[m]`` records, for every position where the
    text before it is a complete top-level parse, lark's choice for that prefix:
    ``(k, True)`` "a prompt from k", ``(k, False)`` "literal characters from k".
    """
    n = len(text)
    back: list[tuple[int, bool] | None] = [None] * (n + 1)
    back[0] = (0, True)
    stack: list[_Bracket] = []
    top_group: _Group | None = _Group(False, 0, zero=True)  # the top-level group when the stack is empty
    # Literal threads: first and last of lark's queue, and its length (capped at 2).
    u_first = u_last = 0
    u_len = 1
    zone_open: int | None = _AFTER  # items that read an opening bracket at this position
    zone_close: int | None = None  # items of the innermost bracket that read ')', ']' or ':' here
    all_literal = True  # every character so far is one of []():

    i = 0
    while i < n:
        char = text[i]
        if char in _LITERAL_CHARS:
            m = i + 1
            top = stack[-1] if stack else None
            group = top.group if top is not None else top_group
            # Which structural item (besides the literal threads) reads this character?
            kind = None
            zone: int | None = None
            if char == "(" or char == "[":
                if zone_open is not None and group is not None:
                    kind, zone = "open", zone_open
            elif char == ":":
                if top is not None and zone_close is not None and (
                        top.state == "seg1" or (top.kind == "[" and top.state == "seg2")):
                    kind = "colon_tail" if top.state == "seg2" else "colon"
                    zone = zone_close
            elif top is not None and char == "]" and top.tail_close == i:
                kind, zone = "close", (_BEFORE if u_len else _NONE)  # number items sit at the queue's front
            elif top is not None and zone_close is not None and (
                    (char == ")" and top.kind == "(" and top.state != "alt")
                    or (char == "]" and top.kind == "[" and top.state in ("seg1", "alt"))):
                kind, zone = "close", zone_close

            structure_first = kind is not None and (u_len == 0 or zone == _AFTER or zone == _NONE)
            new_zone_open: int | None
            new_zone_close: int | None = None
            star = u_len > 0
            if kind == "close":
                parent = stack[-1].parent
                has_s = parent.rep is not None
                if structure_first:
                    # The closed bracket's parent group runs first: the first member queues
                    # the openers at m, the segment's own thread (B) queues its closing items,
                    # the first top-level-valid member completes the prefix (and queues
                    # thread m) - in lark's (reversed) order.
                    star = star or has_s
                    if has_s:
                        new_first = m
                        new_last = u_first if u_len >= 2 else (u_last if u_len else m)
                    else:
                        new_first, new_last = u_last, (u_first if u_len >= 2 else m)
                    new_len = min(u_len + 1, 2) if star else 0
                    new_zone_open = _BEFORE if star else _NONE
                    if parent.has_b:
                        if not parent.s_after:
                            new_zone_close = _BEFORE if star else _NONE
                        else:
                            new_zone_close = _BETWEEN if u_len else _AFTER
                    fresh_at = 1 if has_s else 2
                else:
                    # The literal threads complete the prefix first; the bracket after them.
                    new_first, new_last, new_len = u_last, (u_first if u_len >= 2 else m), 2
                    new_zone_open = _BETWEEN if u_len >= 2 else _AFTER
                    if parent.has_b:
                        new_zone_close = _BETWEEN if zone == _BETWEEN else _AFTER
                    fresh_at = 0
                if star:
                    if len(stack) == 1 and parent.zero:
                        back[m] = (0, True)
                    elif all_literal:
                        back[m] = (0, False)
                    elif has_s:
                        back[m] = (parent.rep, True)  # type: ignore[assignment]
                    else:
                        back[m] = (u_last, False)
                stack.pop()
                new_group = parent.advanced(m if star else None, fresh_at, m)
                if stack:
                    stack[-1].group = new_group
                else:
                    top_group = new_group
                if not stack or not new_group.has_b:
                    new_zone_close = None
            else:
                if u_len:
                    new_first, new_last, new_len = u_last, (u_first if u_len >= 2 else m), 2
                    back[m] = (0, False) if all_literal else (u_last, False)
                else:
                    new_first = new_last = 0
                    new_len = 0
                if kind == "open" or kind == "colon":
                    # Items expecting a prompt at m: predicting it queues the openers at m and
                    # the closing items of the (still empty) new segment together.
                    if structure_first:
                        new_zone_open = new_zone_close = _BEFORE if u_len else _NONE
                    else:
                        new_zone_open = new_zone_close = _BETWEEN if u_len >= 2 else _AFTER
                    segment_group = _Group(True, m if star else None)
                    if kind == "open":
                        stack.append(_Bracket(char, group, segment_group))  # type: ignore[arg-type]
                    else:
                        assert top is not None
                        top.state = "seg2"
                        top.tail_close = _tail_close(text, m) if top.kind == "[" else None
                        top.group = segment_group
                elif kind == "colon_tail":
                    assert top is not None
                    new_zone_open = (_BETWEEN if u_len >= 2 else _AFTER) if star else None
                    floating = _Group(False, m) if star else None
                    top.tail_close = _tail_close(text, m)
                    if top.tail_close is None:
                        stack.clear()  # the bracket can never close: nothing waits for it any more
                        top_group = floating
                    else:
                        top.state = "tail"
                        top.group = floating
                else:
                    # Only the literal threads read it: every prompt thread dies here.
                    if not star:
                        return None
                    new_zone_open = _BETWEEN if u_len >= 2 else _AFTER
                    stack.clear()
                    top_group = _Group(False, m)
            u_first, u_last, u_len = (new_first, new_last, new_len) if star else (0, 0, 0)
            zone_open, zone_close = new_zone_open, new_zone_close
            if (stack[-1].group if stack else top_group) is None:
                zone_open = None
            i = m
            continue

        all_literal = False
        top = stack[-1] if stack else None
        if char == "|":
            if top is not None and top.kind == "[" and top.state in ("seg1", "alt"):
                top.state = "alt"
                top.tail_close = None
                top.group = _Group(True, None)
                u_first = u_last = u_len = 0
                zone_open = zone_close = _NONE
                i += 1
                continue
            return None  # nothing can read this '|'

        group = top.group if top is not None else top_group
        if group is None:
            if top is not None and top.tail_close is not None and i < top.tail_close:
                # Only the number items of a scheduled bracket read these characters.
                u_first = u_last = u_len = 0
                zone_open = zone_close = None
                i = top.tail_close
                continue
            return None
        match = _PLAIN.match(text, i)
        if match is None:
            return None  # a backslash at the end or before a line break
        end = match.end()
        ws = _WHITESPACE.match(text, i)
        # A run of whitespace is read both as WHITESPACE and as the start of plain text:
        # the threads complete once at its end and again where the plain text ends.
        ends = (ws.end(), end) if ws is not None and ws.end() < end else (end,)
        for e in ends:
            group = stack[-1].group if stack else top_group
            assert group is not None
            has_s = group.rep is not None
            if has_s:
                back[e] = (0, True) if (not stack and group.zero) else (group.rep, True)  # type: ignore[assignment]
                u_first = u_last = e
                u_len = 1
                zone_open = _BEFORE
                zone_close = (_AFTER if group.s_after else _BEFORE) if group.has_b else None
            else:
                u_first = u_last = u_len = 0
                zone_open = _NONE
                zone_close = _NONE if group.has_b else None
            new_group = group.advanced(e if has_s else None, 1, e)
            if stack:
                stack[-1].group = new_group
            else:
                top_group = new_group
        i = end

    if back[n] is None:
        return None
    segments = []
    m = n
    while m > 0:
        k, is_prompt = back[m]  # type: ignore[misc]
        segments.append((k, m, is_prompt))
        m = k
    segments.reverse()
    return segments

class Token(str):
    """A piece of prompt text with its grammar terminal name (``.type``), like lark's ``Token``."""

    type: str

    def __new__(cls, type_: str, value: str) -> "Token":
        token = super().__new__(cls, value)
        token.type = type_
        return token

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {str(self)!r})"


class Tree:
    """A parse-tree node shaped like lark's: ``data`` is the rule name, ``children`` trees, tokens or None.

    Rules: ``start`` (prompts, and ``LITERAL`` tokens for runs of stray brackets
    and colons), ``prompt``,
    ``plain``, ``emphasized`` (keeps its bracket tokens), ``scheduled``
    (``[before, after, None, NUMBER, None]``; ``before`` is None for
    ``[to:when]``) and ``alternate`` (one ``prompt`` per option, empty ones included).
    """

    __slots__ = ("data", "children")

    def __init__(self, data: str, children: list) -> None:
        self.data = data
        self.children = children

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tree) and self.data == other.data and self.children == other.children

    def __repr__(self) -> str:
        return f"Tree({self.data!r}, {self.children!r})"

    def iter_subtrees(self) -> Iterable["Tree"]:
        """Every tree node below and including this one (no recursion, so any depth works)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(child for child in reversed(node.children) if isinstance(child, Tree))


_STRUCTURE = re.compile(r"[\\\[\]():|]")
_OPEN_TOKEN = {"(": "LPAR", "[": "LSQB"}


def _prompt_tree(text: str, start: int, end: int) -> Tree:
    """The tree of ``text[start:end]``, which :func:`_segment` found to be one prompt (so it is well formed).

    Iterative, so nesting depth costs no recursion.
    """
    root = Tree("prompt", [])
    # One frame per open bracket: [opening char, the prompt it sits in, its segments, separators].
    frames: list[list[Any]] = []
    current = root
    i = start
    while i < end:
        char = text[i]
        if char == "\\":
            _append_text(current, text[i:i + 2])
            i += 2
        elif char == "(" or char == "[":
            segment = Tree("prompt", [])
            frames.append([char, current, [segment], []])
            current = segment
            i += 1
        elif char == ":" or char == "|":
            frame = frames[-1]
            frame[3].append(char)
            current = Tree("prompt", [])
            frame[2].append(current)
            i += 1
        elif char == ")" or char == "]":
            opening, parent, segments, separators = frames.pop()
            parent.children.append(_bracket_node(opening, segments, separators))
            current = parent
            i += 1
        else:
            match = _STRUCTURE.search(text, i, end)
            stop = match.start() if match else end
            _append_text(current, text[i:stop])
            i = stop
    return root


def _append_text(prompt: Tree, text: str) -> None:
    children = prompt.children
    if children and isinstance(children[-1], Tree) and children[-1].data == "plain":
        last = children[-1]
        last.children[0] = Token("PLAIN", last.children[0] + text)
    else:
        children.append(Tree("plain", [Token("PLAIN", text)]))


def _bracket_node(opening: str, segments: list[Tree], separators: list[str]) -> Tree:
    if opening == "(":
        children: list[Any] = [Token("LPAR", "("), segments[0]]
        if separators:
            children += [Token("COLON", ":"), segments[1]]
        return Tree("emphasized", children + [Token("RPAR", ")")])
    if not separators:
        return Tree("emphasized", [Token("LSQB", "["), segments[0], Token("RSQB", "]")])
    if separators[0] == "|":
        return Tree("alternate", segments)
    # Scheduled: the text after the last colon is [WHITESPACE] NUMBER [WHITESPACE].
    tail = "".join(_tree_text(segments[-1]))
    ws = _WHITESPACE.match(tail)
    number = _NUMBER.match(tail, ws.end() if ws else 0)
    assert number is not None
    before = segments[0] if len(separators) == 2 else None
    after = segments[1] if len(separators) == 2 else segments[0]
    return Tree("scheduled", [before, after, None, Token("NUMBER", number.group(0)), None])


def _tree_text(node: Any) -> Iterable[str]:
    """The verbatim text of a prompt (sub)tree, as if no schedule applied."""
    stack = [node]
    while stack:
        item = stack.pop()
        if item is None:
            continue
        if isinstance(item, Tree):
            stack.extend(reversed(item.children))
        else:
            yield item


def _parse_tree(prompt: str) -> Tree | None:
    segments = _segment(prompt)
    if segments is None:
        return None
    children: list[Any] = []
    for start, end, is_prompt in segments:
        if is_prompt:
            children.append(_prompt_tree(prompt, start, end))
        else:
            children.append(Token("LITERAL", prompt[start:end]))
    return Tree("start", children)


class ScheduleParser:
    """What ``modules.prompt_parser.schedule_parser`` is for extensions: ``.parse(prompt)`` gives the tree.

    A1111 exposes its lark parser there; this object keeps the ``parse``
    method and a lark-shaped :class:`Tree`, built in linear time.
    """

    def parse(self, prompt: str) -> Tree:
        """The parse tree of ``prompt``; :class:`PromptSyntaxError` when it does not parse."""
        tree = _parse_tree(prompt)
        if tree is None:
            raise PromptSyntaxError(f"prompt does not parse as prompt-editing syntax: {prompt[:80]!r}")
        return tree


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


def _compile(text: str, segments: list[tuple[int, int, bool]], timeline: _Timeline, steps: set[int]) -> _Compiled:
    """The parsed prompt with its static text joined, collecting the step boundaries into ``steps``.

    Linear and iterative.  Every ``when`` counts, even inside an option that is
    never used; any alternation makes every step a boundary (as in A1111).
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
                    steps.update(range(1, timeline.steps + 1))
                    current.append(("a", parts))
                else:
                    tail = "".join(_finish(parts[-1]))  # type: ignore[arg-type]
                    ws = _WHITESPACE.match(tail)
                    number = _NUMBER.match(tail, ws.end() if ws else 0)
                    assert number is not None
                    when = timeline.end_step(number.group(0))
                    if when >= 1:
                        steps.add(when)
                    two = len(separators) == 2
                    current.append(("s", when, parts[0] if two else None, parts[1] if two else parts[0]))
                i += 1
            elif char == "\\":
                current.append(text[i:i + 2])
                i += 2
            else:
                match = _STRUCTURE.search(text, i, end)
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
    if isinstance(compiled, str):
        out.append(compiled)
        return
    for part in compiled:
        if isinstance(part, str):
            out.append(part)
        elif part[0] == "s":
            _render(part[2] if step <= part[1] else part[3], step, out)
        else:
            options = part[1]
            _render(options[(step - 1) % len(options)], step, out)


def prompt_schedule(prompt: str, base_steps: int, hires_steps: int | None = None,
                    use_old_scheduling: bool = False, key: str = "prompt") -> list[list]:
    """``[[end_step, text], ...]`` for one prompt (see :func:`get_learned_conditioning_prompt_schedules`).

    Raises :class:`~modules.prompting.limits.PromptLimitError` (``key`` names
    the field) when the prompt is over the limits.
    """
    check_prompt_limits(prompt, key)
    timeline = _Timeline(base_steps, hires_steps, use_old_scheduling)
    segments = _segment(prompt)
    if segments is None:
        return [[timeline.steps, prompt]]
    steps = {timeline.steps}
    compiled = _compile(prompt, segments, timeline, steps)
    schedule = []
    for step in sorted(steps):
        out: list[str] = []
        _render(compiled, step, out)
        schedule.append([step, "".join(out)])
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
