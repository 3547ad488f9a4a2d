"""The wrappers A1111's UI (and extensions' UIs) put around gradio functions (A1111's ``modules.call_queue``),
and the one lock every generation takes (:data:`queue_lock`, UI and API alike).

Importing this module does not import gradio.
"""
from __future__ import annotations

import functools
import html
import threading
import time
from typing import Any, Callable

from modules.core import errors
from modules.runtime import progress
from modules.runtime.job_instruments import memory_html
from modules.runtime.jobs import job_queue, run_job
from modules.runtime.queue_lock import queue_lock

__all__ = ["queue_lock", "wrap_gradio_call", "wrap_gradio_call_no_job", "wrap_gradio_gpu_call", "wrap_queued_call"]


def wrap_queued_call(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``func`` holding :data:`queue_lock` (so it never overlaps a generation)."""
    @functools.wraps(func)
    def f(*args: Any, **kwargs: Any) -> Any:
        with queue_lock:
            return func(*args, **kwargs)

    return f


def wrap_gradio_gpu_call(func: Callable[..., Any], extra_outputs: list | None = None) -> Callable[..., Any]:
    """A GPU job from the page: the first argument is the page's task id; the call runs through the one job queue
    (its progress is followed like a generation's), failures become a message in the last output."""
    @functools.wraps(func)
    def f(*args: Any, **kwargs: Any) -> Any:
        task_id = args[0] if args and isinstance(args[0], str) and args[0].startswith("task(") else None
        task_id = task_id or progress.create_task_id("ui")
        result = run_job(task_id, lambda: func(*args, **kwargs), name=getattr(func, "__name__", "job"), kind="ui")
        progress.record_results(task_id, result)
        job = job_queue().get(task_id)
        memory.value = job.memory if job is not None else None
        return result

    # the job's device memory peaks, handed to the line under the gallery (per thread: calls may overlap)
    memory = threading.local()
    return wrap_gradio_call(f, extra_outputs=extra_outputs, add_stats=True, memory=memory)


def wrap_gradio_call(func: Callable[..., Any], extra_outputs: list | None = None,
                     add_stats: bool = False, memory: threading.local | None = None) -> Callable[..., Any]:
    """Catch ``func``'s exception: the outputs become ``extra_outputs`` and an error message (the last output is the
    HTML log); with ``add_stats`` the time taken is added to that log, and the device memory line when ``memory.value``
    holds the job's peaks."""
    @functools.wraps(func)
    def f(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        if memory is not None:
            memory.value = None
        try:
            res = list(func(*args, **kwargs))
        except Exception as e:  # noqa: BLE001 - the page shows the message; the console gets the traceback
            errors.report(f"Error completing request {getattr(func, '__name__', '')}", exc_info=True)
            res = list(extra_outputs if extra_outputs is not None else [None, ""])
            res.append(f"<div class='error'>{html.escape(f'{type(e).__name__}: {e}')}</div>")
        if add_stats and res and isinstance(res[-1], str):
            res[-1] += (f"<div class='performance'><p class='time'>Time taken: <wbr><span class='measurement'>"
                        f"{elapsed_text(time.perf_counter() - started)}</span></p>"
                        f"{memory_html(getattr(memory, 'value', None))}</div>")
        return tuple(res)

    return f


def elapsed_text(seconds: float) -> str:
    """``12.3 sec.``, or ``2 min. 5.0 sec.`` from a minute on (A1111's "Time taken")."""
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min. {rest:.1f} sec." if minutes else f"{rest:.1f} sec."


def wrap_gradio_call_no_job(func: Callable[..., Any], extra_outputs: list | None = None,
                            add_stats: bool = False) -> Callable[..., Any]:
    """A1111 1.10's name for :func:`wrap_gradio_call` on calls that are not jobs."""
    return wrap_gradio_call(func, extra_outputs=extra_outputs, add_stats=add_stats)
