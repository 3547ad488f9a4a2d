"""Where ``process_images`` may hand a job to another executor (the Ray orchestrator of ``--ray``).

The default is none: every job runs in this process.  A package above processing (``modules.distributed``)
installs an :class:`Executor` at start-up; :func:`modules.processing.pipeline.process_images` then asks it,
after the scripts' ``before_process`` hook, whether it takes the job (and the Extras job asks it to run its
operations, when it offers that).  Only the composition code installs
one; the worker processes that run the jobs never do, so a job is handed over at most once.
"""
from __future__ import annotations

import threading
from typing import Any, Protocol


class Executor(Protocol):
    """Runs processing objects somewhere else and answers with the :class:`Processed` they would have made here."""

    def accepts(self, p: Any) -> bool:
        """True when this executor runs ``p`` (False: it runs in this process as usual)."""

    def run(self, p: Any) -> Any:
        """Run ``p`` and return its ``Processed`` (the same pictures, infotexts and saved files as a local run)."""

    def parallel_slots(self) -> int:
        """How many jobs it runs at once: scripts that make many jobs (X/Y/Z plot) submit that many together."""

    # optional: an executor with these runs the Extras tab's operations too (modules.processing.extras_run)
    def accepts_postprocessing(self) -> bool:
        """True when it runs Extras jobs' operations."""

    def run_postprocessing(self, services: Any, task_id: str, pictures: list, op_args: dict) -> list:
        """Run the operations ``op_args`` over each ``PostprocessedImage`` (at once where it can) and return the
        processed ones in order; fewer when the job was interrupted."""


_EXECUTOR: Executor | None = None
_GUARD = threading.Lock()


def install_executor(executor: Executor | None) -> Executor | None:
    """Make ``executor`` the one ``process_images`` asks (None: run everything here); returns the previous one."""
    global _EXECUTOR
    with _GUARD:
        previous, _EXECUTOR = _EXECUTOR, executor
    return previous


def current_executor() -> Executor | None:
    """The installed executor, or None."""
    return _EXECUTOR
