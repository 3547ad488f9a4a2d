"""Test oracle: A1111's prompt-editing grammar parsed by lark's Earley parser, as the product did before.

``modules.prompting.scheduling`` reads prompts with its own linear-time parser;
these helpers give what the lark parse of the same grammar gives, so the tests
can compare the two.  lark stays in requirements.txt (A1111 lists it); nothing
in the product imports it.  Only feed it short prompts: its cost is cubic.
"""
from __future__ import annotations

import functools
from typing import Any

# A1111's grammar, for lark's default Earley parser.  `start` keeps stray brackets/colons
# as literal tokens; `emphasized` keeps its brackets ("!") so the text reaches the emphasis
# parser unchanged; optional parts produce None placeholders.
GRAMMAR = r"""
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
def parser() -> Any:
    """The compiled grammar (lark's defaults: Earley, dynamic lexer, ambiguity resolved)."""
    import lark

    return lark.Lark(GRAMMAR)


@functools.lru_cache(maxsize=1024)
def parse(prompt: str) -> Any:
    """lark's tree for ``prompt``, or None when it does not parse (cached: trees are only read)."""
    import lark

    try:
        return parser().parse(prompt)
    except lark.exceptions.LarkError:
        return None


def _is_tree(node: Any) -> bool:
    return hasattr(node, "data") and hasattr(node, "children")


def _edit_parts(node: Any) -> tuple[Any, Any, str]:
    """``(before, after, number_text)`` of a ``scheduled`` node (children ``[before, after, ws, NUMBER, ws]``)."""
    number_at = next(i for i, c in enumerate(node.children) if getattr(c, "type", None) == "NUMBER")
    number = str(node.children[number_at])
    if number_at == 3:
        return node.children[0], node.children[1], number
    texts = [c for c in node.children[:number_at] if _is_tree(c)]
    return (texts[0] if len(texts) > 1 else None), texts[-1], number


def _end_step(number_text: str, steps: int, int_offset: int, float_offset: float, old: bool) -> int:
    value = float(number_text)
    if old:
        value = value * steps if value < 1 else value
    elif "." in number_text:
        value = (value - float_offset) * steps
    else:
        value = value - int_offset
    return int(min(max(value, -1.0), float(steps)))


def schedule(prompt: str, base_steps: int, hires_steps: int | None = None, old: bool = False) -> list[list]:
    """``[[end_step, text], ...]`` computed from lark's tree, the way the lark-based implementation did."""
    if hires_steps is None or old:
        steps, int_offset, float_offset = base_steps, 0, 0.0
    else:
        steps, int_offset, float_offset = hires_steps, base_steps, 1.0
    tree = parse(prompt)
    if tree is None:
        return [[steps, prompt]]

    boundaries = {steps}
    whens: dict[int, int] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.data == "scheduled":
            when = _end_step(_edit_parts(node)[2], steps, int_offset, float_offset, old)
            whens[id(node)] = when
            if when >= 1:
                boundaries.add(when)
        elif node.data == "alternate":
            boundaries.update(range(1, steps + 1))
        stack.extend(child for child in node.children if _is_tree(child))

    def text_at(node: Any, step: int, out: list[str]) -> None:
        if node is None:
            return
        if not _is_tree(node):
            out.append(str(node))
        elif node.data == "scheduled":
            before, after, _ = _edit_parts(node)
            text_at(before if step <= whens[id(node)] else after, step, out)
        elif node.data == "alternate":
            options = list(node.children)
            text_at(options[(step - 1) % len(options)], step, out)
        else:
            for child in node.children:
                text_at(child, step, out)

    result = []
    for step in sorted(boundaries):
        out: list[str] = []
        text_at(tree, step, out)
        result.append([step, "".join(out)])
    return result
