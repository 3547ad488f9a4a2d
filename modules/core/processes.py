"""Whether a process is still running, for folders a process owns and a later one cleans up after it ended."""
from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """True while the process ``pid`` exists (someone else's process counts: it is alive, only not ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
