"""``GET /sdapi/v1/workers``: the Ray worker actors of ``--ray`` (name, node, devices, loaded model and extra
networks, current job).

Without ``--ray`` the list is empty: every job runs in this process.
"""
from __future__ import annotations

from typing import Any

from modules.distributed import current_orchestrator


def get_workers() -> list[dict[str, Any]]:
    """Every worker: ``status`` ``ok`` / ``starting`` / ``restarting`` (with ``reason``), and the checkpoints it
    cannot load (``missing_checkpoints``, the reason each)."""
    orchestrator = current_orchestrator()
    return orchestrator.workers() if orchestrator is not None else []


def register(api: Any) -> None:
    api.add_api_route("/sdapi/v1/workers", get_workers, methods=["GET"], response_model=list[dict[str, Any]])
