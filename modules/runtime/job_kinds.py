"""What the job queue needs to know about a kind of stored job (txt2img, img2img, ...) to outlive a restart.

Asynchronous jobs are stored with their request (see :mod:`modules.runtime.job_store`).  The
code that submits them registers a :class:`JobKind` per kind with
:meth:`modules.runtime.jobs.JobQueue.register_kinds`; the queue then uses it to

- rebuild a job that was still queued at the last stop from its stored request,
- turn a finished job's result into pictures and fields to store, and back into the answer,
- describe a failure so that it reads the same after a restart (:meth:`JobKind.describe_error`,
  :meth:`JobKind.restore_error`).

Jobs restored from the store wait until their kind is registered, so they never start before
the code that knows how to run them (the API) is ready.
"""
from __future__ import annotations

import sys
import traceback
from typing import Any, Callable

from modules.runtime.job_store import StoredResult

INTERRUPTED = "interrupted: the server stopped while it ran"
"""The error of a job that was running when the process stopped."""


class JobKind:
    """How the stored jobs of one kind are rebuilt and how their results are stored (one object per kind)."""

    def rebuild(self, task_id: str, request: dict[str, Any]) -> tuple[Callable[[], Any], Any]:
        """(the job's callable, its ``meta``) for the stored request body; called on the worker when the job starts.

        Raising fails the job with that error (a request that is no longer valid, say).
        """
        raise NotImplementedError

    def result_to_store(self, job: Any) -> StoredResult | None:
        """What to store of a finished ``job`` (``job.result``, ``job.meta`` are set); None keeps nothing.

        Called on the worker before anyone is told that the job ended.
        """
        return None

    def answer_from_store(self, stored: StoredResult) -> Any:
        """The answer the result route gives for a stored result (read after a restart)."""
        raise NotImplementedError

    def restore_error(self, error: "StoredJobError") -> BaseException:
        """The exception a restored failed job answers with (default: ``error`` itself, a 500 unless told)."""
        return error

    def describe_error(self, error: BaseException) -> dict[str, Any]:
        """``{"status_code", "error", "detail", "key"}`` of a job's failure, stored to be answered after a restart."""
        status = getattr(error, "status_code", None)
        return {"status_code": status if isinstance(status, int) else 500, "error": type(error).__name__,
                "detail": str(getattr(error, "detail", None) or error), "key": getattr(error, "key", None)}


class StoredJobError(RuntimeError):
    """A job's failure read back from the store: the status and message it was answered with."""

    def __init__(self, detail: str, status_code: int = 500, key: str | None = None, error: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code
        self.key = key
        self.error = error or type(self).__name__
        """The class name of the original exception."""

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> "StoredJobError":
        record = record if isinstance(record, dict) else {}
        if record.get("error") == JobInterruptedError.__name__:
            return JobInterruptedError(str(record.get("detail") or INTERRUPTED))
        status = record.get("status_code")
        return cls(str(record.get("detail") or "the job failed"), status if isinstance(status, int) else 500,
                   record.get("key"), record.get("error"))


class JobInterruptedError(StoredJobError):
    """The job was running when the server stopped; it did not finish."""

    def __init__(self, detail: str = INTERRUPTED) -> None:
        super().__init__(detail, 500, None, "JobInterruptedError")


def interrupted_record() -> dict[str, Any]:
    """The stored error of a job that was running when the process stopped."""
    return {"status_code": 500, "error": JobInterruptedError.__name__, "detail": INTERRUPTED, "key": None}


class StoredAnswer:
    """The ``meta`` of a job restored from the store: its answer is read from disk (once) when asked for.

    ``cached_answer`` is the name the result route reads (as on a live job's prepared request);
    None when the kind is not registered or the stored files cannot be read.
    """

    def __init__(self, kinds: dict[str, JobKind], kind: str, store: Any, key: int) -> None:
        self._kinds = kinds
        self._kind = kind
        self._store = store
        self._key = key
        self._answer: Any = None

    @property
    def cached_answer(self) -> Any:
        if self._answer is None:
            kind = self._kinds.get(self._kind)
            if kind is None:
                return None
            try:
                stored = self._store.result(self._key)
                self._answer = kind.answer_from_store(stored) if stored is not None else None
            except Exception as e:  # an unreadable picture must not break the route: the result is just gone
                print(f"*** Job store: the result of job {self._key} could not be read: {e}", file=sys.stderr)
                traceback.print_exc()
                return None
        return self._answer
