"""Running the "Custom code" script's Python (only ever with ``--allow-code``; see SECURITY.md).

The code becomes the body of a function (so it may ``return``), indented by the "Indent level" the user gives,
and runs in a fresh module namespace; the value of the call is returned, as A1111's ``exec_with_return``.
"""
from __future__ import annotations

import ast
import types
from typing import Any

FUNCTION_NAME = "__webuitemp__"
"""The wrapper function's name (A1111's)."""


class UserCodeError(Exception):
    """The user's code did not compile or raised; the message names the error and the line of the code."""


def wrap_in_function(code: str, indent_level: int) -> str:
    """``def __webuitemp__():`` + the code indented by ``indent_level`` spaces + a call of the function."""
    indent = " " * indent_level
    indented = code.replace("\n", f"\n{indent}")
    return f"def {FUNCTION_NAME}():\n{indent}{indented}\n{FUNCTION_NAME}()"


def exec_with_return(source: str, module: types.ModuleType, filename: str = "<custom code>") -> Any:
    """Execute ``source`` in ``module``'s namespace; the value of its last statement when that is an expression."""
    tree = ast.parse(source, filename=filename)
    if not tree.body:
        return None
    *init, last = tree.body
    namespace = module.__dict__
    exec(compile(ast.Module(body=init, type_ignores=[]), filename, "exec"), namespace)
    if isinstance(last, ast.Expr):
        return eval(compile(ast.Expression(body=last.value), filename, "eval"), namespace)
    exec(compile(ast.Module(body=[last], type_ignores=[]), filename, "exec"), namespace)
    return None


def _user_line(error: BaseException, filename: str) -> int | None:
    """The line of the user's code (1-based) where ``error`` happened; the wrapper adds one line before it."""
    line = None
    if isinstance(error, SyntaxError) and error.filename == filename:
        line = error.lineno
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line - 1 if line is not None and line > 1 else line


def run_user_code(code: str, indent_level: int, namespace: dict[str, Any]) -> Any:
    """Run ``code`` as a function body with ``namespace`` as its globals; returns the function's return value.

    Any error of the code (syntax, exceptions, ``sys.exit``) becomes :class:`UserCodeError`.
    """
    filename = "<custom code>"
    module = types.ModuleType("testmodule")
    module.__dict__.update(namespace)
    source = wrap_in_function(code, indent_level)
    try:
        return exec_with_return(source, module, filename)
    except (Exception, SystemExit) as e:
        line = _user_line(e, filename)
        where = f" (line {line})" if line is not None else ""
        detail = e.msg if isinstance(e, SyntaxError) else str(e)
        raise UserCodeError(f"{type(e).__name__}{where}: {detail}") from e
