"""Reading the prompt-editing syntax exactly as A1111's lark parser does, in one linear pass.

A1111 parses with lark's Earley parser and this grammar (kept, as the test
oracle, in ``tests/prompting/lark_oracle.py``)::

    start: (prompt | /[][():]/+)*
    prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*
    emphasized: "(" prompt ")" | "(" prompt ":" prompt ")" | "[" prompt "]"
    scheduled: "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
    alternate: "[" prompt ("|" [prompt])+ "]"

Inside one ``prompt`` the structure is unique (every bracket is structural, so
bracket matching and colon counts decide it).  The only real ambiguity is at
the top: which stretches are prompts and which brackets and colons are literal
(``x[a:1]](`` or ``x[a:1]]]``).  lark settles it by the order in which its
Earley loop happened to build the alternatives, so the answer depends on things
such as the parity of a run of stray brackets; its cost is cubic in the prompt
length (2,000 ``(`` took minutes and gigabytes).

:class:`_Reader` reproduces that choice with a constant-size summary of the
Earley state instead of the state itself:

- the threads reading a run of literal characters (``U`` threads), as the first
  and last of their queue and its length: lark reverses that queue at every
  character and puts the new thread first or second, so the middle is never
  observed;
- for the prompt threads waiting at one bracket depth (a *group*), where the
  thread that starts the bracket's segment (``B``) stands relative to the
  threads that are also valid top-level prefixes (``S``), in the same reversed
  order;
- for the items that can read the next stray character, whether lark queued
  them before, between or after the literal threads (a *zone*): that decides
  whether a closing bracket completes the top level before the literal
  threads do.

Only the choice between "the last prompt ends here" and "these characters are
literal" changes a schedule (tests/prompting/test_scheduling_fuzz.py compares
with lark on random prompts); among several prompts ending at the same place
any one gives the same texts.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

# lark's common.SIGNED_NUMBER, with its alternatives in lark's order (a regex
# alternation takes the first alternative that matches, not the longest).
NUMBER = re.compile(r"[+-]?(?:[0-9]+[eE][+-]?[0-9]+|(?:[0-9]+\.(?:[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+)")
WHITESPACE = re.compile(r"\s+")
STRUCTURE = re.compile(r"[\\\[\]():|]")
"""The characters that end a run of plain text."""
_PLAIN = re.compile(r"(?:[^\\\[\]():|]|\\.)+")
_LITERAL_CHARS = frozenset("[]():")

# Where lark queued the items that can read the next character, relative to the
# literal (U) threads queued at the same position.  ``None`` = no such item.
_BEFORE, _BETWEEN, _AFTER, _NONE = 0, 1, 2, 3

Segment = tuple[int, int, bool]
"""``(start, end, is_prompt)``: a stretch read as one prompt, or as literal characters."""


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

    def advanced(self, fresh: int | None, fresh_at: int) -> "_Group":
        """The group after one element completed: lark processes it in reverse, so the order flips.

        ``fresh`` is the position where a new top-level-valid thread starts (None:
        none); ``fresh_at`` where it joins: 0 first, 1 right after the first
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
                group.rep = fresh
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
    match = WHITESPACE.match(text, pos)
    if match:
        pos = match.end()
    match = NUMBER.match(text, pos)
    if not match:
        return None
    pos = match.end()
    match = WHITESPACE.match(text, pos)
    if match:
        pos = match.end()
    return pos if pos < len(text) and text[pos] == "]" else None


class _Reader:
    """One pass over a prompt; :meth:`read` gives lark's top-level reading of it.

    ``back[m]`` records, for every position where the text before it is a
    complete top-level parse, lark's choice for that prefix: ``(k, True)`` "a
    prompt from k", ``(k, False)`` "literal characters from k".
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.back: list[tuple[int, bool] | None] = [None] * (len(text) + 1)
        self.back[0] = (0, True)
        self.stack: list[_Bracket] = []
        self.top_group: _Group | None = _Group(False, 0, zero=True)  # the top-level group when the stack is empty
        # Literal threads: first and last of lark's queue, and its length (capped at 2).
        self.u_first, self.u_last, self.u_len = 0, 0, 1
        self.zone_open: int | None = _AFTER  # items that read an opening bracket at this position
        self.zone_close: int | None = None  # items of the innermost bracket that read ')', ']' or ':' here
        self.all_literal = True  # every character so far is one of []():

    def read(self) -> list[Segment] | None:
        """``[(start, end, is_prompt), ...]`` covering the text in order, or None when it does not parse."""
        text, i, n = self.text, 0, len(self.text)
        while i < n:
            char = text[i]
            if char in _LITERAL_CHARS:
                if not self._literal(i, char):
                    return None
                i += 1
                continue
            self.all_literal = False
            if char == "|":
                if not self._bar():
                    return None
                i += 1
                continue
            next_i = self._text(i, char)
            if next_i is None:
                return None
            i = next_i
        return self._segments()

    def _group(self) -> _Group | None:
        return self.stack[-1].group if self.stack else self.top_group

    def _set_group(self, group: _Group | None) -> None:
        if self.stack:
            self.stack[-1].group = group
        else:
            self.top_group = group

    # --- one of [ ] ( ) : -----------------------------------------------------------------

    def _classify(self, i: int, char: str) -> tuple[str | None, int | None]:
        """Which structural item, besides the literal threads, reads ``char`` at ``i``, and its zone."""
        top = self.stack[-1] if self.stack else None
        if char == "(" or char == "[":
            if self.zone_open is not None and self._group() is not None:
                return "open", self.zone_open
        elif top is None:
            pass
        elif char == ":":
            if self.zone_close is not None and (top.state == "seg1" or (top.kind == "[" and top.state == "seg2")):
                return ("colon_tail" if top.state == "seg2" else "colon"), self.zone_close
        elif char == "]" and top.tail_close == i:
            return "close", (_BEFORE if self.u_len else _NONE)  # number items sit at the queue's front
        elif self.zone_close is not None and ((char == ")" and top.kind == "(" and top.state != "alt")
                                              or (char == "]" and top.kind == "[" and top.state in ("seg1", "alt"))):
            return "close", self.zone_close
        return None, None

    def _literal(self, i: int, char: str) -> bool:
        """One of ``[ ] ( ) :`` at ``i`` (the top level may read it as literal); False when nothing reads it."""
        m = i + 1
        kind, zone = self._classify(i, char)
        u_first, u_last, u_len = self.u_first, self.u_last, self.u_len
        structure_first = kind is not None and (u_len == 0 or zone == _AFTER or zone == _NONE)
        star = u_len > 0
        # The literal threads' queue after this character: reversed, m first or second.
        new_u = (u_last, u_first if u_len >= 2 else m, 2) if u_len else (0, 0, 0)
        if kind == "close":
            star, new_u, zone_open, zone_close = self._close(m, zone, structure_first)
        else:
            if u_len:
                self.back[m] = (0, False) if self.all_literal else (u_last, False)
            zone_close = None
            if kind == "open" or kind == "colon":
                # Items expecting a prompt at m: predicting it queues the openers at m and the
                # closing items of the (still empty) new segment together.
                if structure_first:
                    zone_open = zone_close = _BEFORE if u_len else _NONE
                else:
                    zone_open = zone_close = _BETWEEN if u_len >= 2 else _AFTER
                self._start_segment(m, char, kind, star)
            elif kind == "colon_tail":
                zone_open = (_BETWEEN if u_len >= 2 else _AFTER) if star else None
                self._start_tail(m, star)
            else:
                # Only the literal threads read it: every prompt thread dies here.
                if not star:
                    return False
                zone_open = _BETWEEN if u_len >= 2 else _AFTER
                self.stack.clear()
                self.top_group = _Group(False, m)
        self.u_first, self.u_last, self.u_len = new_u if star else (0, 0, 0)
        self.zone_open = zone_open if self._group() is not None else None
        self.zone_close = zone_close
        return True

    def _close(self, m: int, zone: int | None, structure_first: bool) -> tuple[bool, tuple[int, int, int], int, int | None]:
        """The innermost bracket closes at ``m``: its parent group completes an element.

        Returns ``(prefix complete, literal queue, zone of openers, zone of closers)``.
        """
        u_first, u_last, u_len = self.u_first, self.u_last, self.u_len
        parent = self.stack[-1].parent
        has_s = parent.rep is not None
        star = u_len > 0
        zone_close: int | None = None
        if structure_first:
            # The parent group runs first: its first member queues the openers at m, the
            # segment's own thread (B) its closing items, the first top-level-valid member
            # completes the prefix (and queues thread m), in lark's reversed order.
            star = star or has_s
            if has_s:
                new_u = (m, u_first if u_len >= 2 else (u_last if u_len else m), min(u_len + 1, 2))
            else:
                new_u = (u_last, u_first if u_len >= 2 else m, 2)
            zone_open = _BEFORE if star else _NONE
            if parent.has_b:
                if not parent.s_after:
                    zone_close = _BEFORE if star else _NONE
                else:
                    zone_close = _BETWEEN if u_len else _AFTER
            fresh_at = 1 if has_s else 2
        else:
            # The literal threads complete the prefix first; the bracket's items after them.
            new_u = (u_last, u_first if u_len >= 2 else m, 2)
            zone_open = _BETWEEN if u_len >= 2 else _AFTER
            if parent.has_b:
                zone_close = _BETWEEN if zone == _BETWEEN else _AFTER
            fresh_at = 0
        if star:
            if len(self.stack) == 1 and parent.zero:
                self.back[m] = (0, True)
            elif self.all_literal:
                self.back[m] = (0, False)
            elif has_s:
                self.back[m] = (parent.rep, True)  # type: ignore[assignment]
            else:
                self.back[m] = (u_last, False)
        self.stack.pop()
        group = parent.advanced(m if star else None, fresh_at)
        self._set_group(group)
        if not self.stack or not group.has_b:
            zone_close = None
        return star, new_u, zone_open, zone_close

    def _start_segment(self, m: int, char: str, kind: str, star: bool) -> None:
        """A bracket opens at ``m - 1``, or its colon starts a second segment at ``m``."""
        group = _Group(True, m if star else None)
        if kind == "open":
            self.stack.append(_Bracket(char, self._group(), group))  # type: ignore[arg-type]
            return
        top = self.stack[-1]
        top.state = "seg2"
        top.tail_close = _tail_close(self.text, m) if top.kind == "[" else None
        top.group = group

    def _start_tail(self, m: int, star: bool) -> None:
        """The second colon of ``[a:b:``: only a number can follow before the ``]``."""
        top = self.stack[-1]
        floating = _Group(False, m) if star else None
        top.tail_close = _tail_close(self.text, m)
        if top.tail_close is None:
            self.stack.clear()  # the bracket can never close: nothing waits for it any more
            self.top_group = floating
        else:
            top.state = "tail"
            top.group = floating

    # --- | ---------------------------------------------------------------------------------

    def _bar(self) -> bool:
        top = self.stack[-1] if self.stack else None
        if top is None or top.kind != "[" or top.state not in ("seg1", "alt"):
            return False  # nothing can read this '|'
        top.state = "alt"
        top.tail_close = None
        top.group = _Group(True, None)
        self.u_first = self.u_last = self.u_len = 0
        self.zone_open = self.zone_close = _NONE
        return True

    # --- plain text and whitespace ---------------------------------------------------------

    def _text(self, i: int, char: str) -> int | None:
        """Plain text from ``i``; returns where it ends (None when nothing reads it)."""
        top = self.stack[-1] if self.stack else None
        if self._group() is None:
            if top is not None and top.tail_close is not None and i < top.tail_close:
                # Only the number items of a scheduled bracket read these characters.
                self.u_first = self.u_last = self.u_len = 0
                self.zone_open = self.zone_close = None
                return top.tail_close
            return None
        match = _PLAIN.match(self.text, i)
        if match is None:
            return None  # a backslash at the end or before a line break
        end = match.end()
        # A run of whitespace is read both as WHITESPACE and as the start of plain text:
        # the threads complete once at its end and again where the plain text ends.
        if char.isspace():  # the same characters as the regex's \s
            ws_end = WHITESPACE.match(self.text, i).end()  # type: ignore[union-attr]
            if ws_end < end:
                self._complete_element(ws_end)
        self._complete_element(end)
        return end

    def _complete_element(self, e: int) -> None:
        """The current group completes a plain or whitespace element at ``e``."""
        group = self._group()
        assert group is not None
        has_s = group.rep is not None
        if has_s:
            self.back[e] = (0, True) if (not self.stack and group.zero) else (group.rep, True)  # type: ignore[assignment]
            self.u_first, self.u_last, self.u_len = e, e, 1
            self.zone_open = _BEFORE
            self.zone_close = (_AFTER if group.s_after else _BEFORE) if group.has_b else None
        else:
            self.u_first = self.u_last = self.u_len = 0
            self.zone_open = _NONE
            self.zone_close = _NONE if group.has_b else None
        self._set_group(group.advanced(e if has_s else None, 1))

    def _segments(self) -> list[Segment] | None:
        m = len(self.text)
        if self.back[m] is None:
            return None
        segments = []
        while m > 0:
            k, is_prompt = self.back[m]  # type: ignore[misc]
            segments.append((k, m, is_prompt))
            m = k
        segments.reverse()
        return segments


def read_segments(text: str) -> list[Segment] | None:
    """lark's top-level reading of ``text``: prompts and literal stretches in order, or None if it does not parse.

    Linear in time and memory, whatever the input.
    """
    return _Reader(text).read()


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
    and colons), ``prompt``, ``plain``, ``emphasized`` (keeps its bracket
    tokens), ``scheduled`` (``[before, after, None, NUMBER, None]``; ``before``
    is None for ``[to:when]``) and ``alternate`` (one ``prompt`` per option,
    empty ones included).
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
        """Every tree node below and including this one, parents first (no recursion, so any depth works)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(child for child in reversed(node.children) if isinstance(child, Tree))


def _prompt_tree(text: str, start: int, end: int) -> Tree:
    """The tree of ``text[start:end]``, which the reader found to be one prompt (so it is well formed)."""
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
            match = STRUCTURE.search(text, i, end)
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
    tail = "".join(str(t) for plain in segments[-1].children for t in plain.children)
    ws = WHITESPACE.match(tail)
    number = NUMBER.match(tail, ws.end() if ws else 0)
    assert number is not None
    before = segments[0] if len(separators) == 2 else None
    after = segments[1] if len(separators) == 2 else segments[0]
    return Tree("scheduled", [before, after, None, Token("NUMBER", number.group(0)), None])


def parse_tree(prompt: str) -> Tree | None:
    """The lark-shaped tree of ``prompt``, or None when it does not parse."""
    segments = read_segments(prompt)
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

    A1111 exposes its lark parser there; this object keeps the ``parse`` method
    and a lark-shaped :class:`Tree`, built in linear time.
    """

    def parse(self, prompt: str) -> Tree:
        """The parse tree of ``prompt``; :class:`PromptSyntaxError` when it does not parse."""
        tree = parse_tree(prompt)
        if tree is None:
            raise PromptSyntaxError(f"prompt does not parse as prompt-editing syntax: {prompt[:80]!r}")
        return tree
