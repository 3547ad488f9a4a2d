"""A1111's ``modules.progress``: task ids, the pending/current/finished bookkeeping and ``/internal/progress``.

The code lives in :mod:`modules.runtime.progress` (the bookkeeping) and :mod:`modules.api.routes_progress`
(the route).
"""
from __future__ import annotations

from typing import Any

from modules.runtime.progress import (add_task_to_queue, create_task_id, finish_task, get_pending_tasks,
                                      record_results, recorded_results, recorded_results_limit, restore_progress,
                                      start_task)

__all__ = ["add_task_to_queue", "create_task_id", "finish_task", "get_pending_tasks", "progressapi", "record_results",
           "recorded_results", "recorded_results_limit", "restore_progress", "start_task"]


def progressapi(req: Any) -> Any:
    """``POST /internal/progress`` for one task (see :mod:`modules.api.routes_progress`)."""
    from modules.api.routes_progress import internal_progress  # the HTTP layer on first use, as A1111's skin allows

    return internal_progress(req)
