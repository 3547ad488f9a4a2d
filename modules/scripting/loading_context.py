"""Which script file is being imported right now (A1111's ``scripts.current_basedir``).

While the loader imports a script, :func:`current_script` names it, so that
``scripts.basedir()`` returns its extension's folder and callbacks registered
from code that is not itself in an extension can still be attributed to it.
"""
from __future__ import annotations

import contextlib
import sys
from contextvars import ContextVar
from typing import Iterator

from modules.core.extensions import ScriptFile

_current: ContextVar[ScriptFile | None] = ContextVar("current_script_file", default=None)


def current_script() -> ScriptFile | None:
    """The script file being imported, or ``None`` outside of script loading."""
    return _current.get()


@contextlib.contextmanager
def loading(script_file: ScriptFile, install_dir: str) -> Iterator[None]:
    """Mark ``script_file`` as being imported; an extension's folder is first on ``sys.path`` meanwhile.

    A1111 puts the extension's folder in front of ``sys.path`` so its scripts can
    import the extension's own packages.  Afterwards only that entry is removed:
    paths the script added itself stay (A1111 dropped them, which broke nothing
    that works there).
    """
    token = _current.set(script_file)
    added = script_file.basedir != install_dir
    if added:
        sys.path.insert(0, script_file.basedir)
    try:
        yield
    finally:
        _current.reset(token)
        if added:
            try:
                sys.path.remove(script_file.basedir)
            except ValueError:
                pass
