"""A1111's ``modules.paths``: the same names as ``modules.paths_internal``.

A1111 also put ``repositories/`` on ``sys.path`` here; this project never
imports code from ``repositories/``, so nothing is added.
"""
from __future__ import annotations

from typing import Any

from modules import paths_internal
from modules.paths_internal import (  # noqa: F401  (re-exported A1111 names)
    config_states_dir,
    extensions_builtin_dir,
    modules_path,
    script_path,
    sd_configs_path,
    sd_default_config,
)

paths: dict[str, str] = {}
"""A1111's map of repository name to checkout path; empty (no repository code is imported)."""


def __getattr__(name: str) -> Any:
    return getattr(paths_internal, name)
