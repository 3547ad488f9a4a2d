"""Restarting or stopping the whole process (A1111's ``modules.restart``), for what a Reload UI cannot do.

``webui.sh`` exports ``SD_WEBUI_RESTART=tmp/restart`` and starts ``launch.py``
again whenever that file exists after the process ended.  Started any other
way, the process can only stop.
"""
from __future__ import annotations

import os


def is_restartable() -> bool:
    """Whether ``webui.sh`` will start the web UI again after this process exits."""
    return bool(os.environ.get("SD_WEBUI_RESTART"))


def mark_restart() -> None:
    """Leave the marker file ``webui.sh`` looks for (the process must still exit)."""
    marker = os.environ.get("SD_WEBUI_RESTART")
    if not marker:
        return
    os.makedirs(os.path.dirname(os.path.abspath(marker)), exist_ok=True)
    with open(marker, "w", encoding="utf8"):
        pass


def stop_program() -> None:
    """End the process now (no clean-up: the model and the queue go with it)."""
    os._exit(0)


def restart_program() -> None:
    """End the process so that ``webui.sh`` starts it again."""
    mark_restart()
    stop_program()
