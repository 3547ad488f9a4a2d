"""A1111's ``modules.call_queue``: the one lock every generation takes (UI and API alike)."""
from __future__ import annotations

from modules.runtime.queue_lock import FIFOLock

queue_lock = FIFOLock()
"""Jobs run one at a time, in arrival order."""
