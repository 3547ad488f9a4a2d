"""Helpers: run a built-in selectable script through the tab's runner, as the UI does."""
from __future__ import annotations

from typing import Any

import pytest

from tests.scripting.conftest import webui  # noqa: F401  (a throwaway install root with extensions)


def run_script(runner: Any, title: str, p: Any, *args: Any) -> Any:
    """Select ``title`` in the Script dropdown, put ``args`` at its argument slots and run it."""
    runner.ensure_args_layout()
    script = runner.script(title)
    assert script is not None, f"{title} not loaded: {runner.titles}"
    script_args = runner.default_script_args()
    script_args[0] = runner.selectable_scripts.index(script) + 1
    script_args[script.args_from:script.args_from + len(args)] = list(args)
    p.scripts, p.script_args = runner, script_args
    return runner.run(p, *script_args)


@pytest.fixture
def run() -> Any:
    return run_script
