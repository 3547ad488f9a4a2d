"""A1111's ``modules.postprocessing`` import path (the Extras tab's job functions)."""
from __future__ import annotations

from typing import Any

from modules.processing.extras_run import run_extras, run_postprocessing  # noqa: F401


def run_postprocessing_webui(id_task: str, *args: Any, **kwargs: Any) -> Any:
    """The UI's entry point: the task id is only for progress reporting."""
    return run_postprocessing(*args, **kwargs)
