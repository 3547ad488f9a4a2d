"""A lock that hands itself to waiters in arrival order (A1111's ``FIFOLock``, the ``queue_lock``).

Every generation from the UI and the API takes this lock, so jobs run one at a
time in the order they arrived.
"""
from __future__ import annotations

import collections
import threading
from types import TracebackType


class FIFOLock:
    """A re-entrant-free mutex granting the lock strictly first come, first served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inner = threading.Lock()
        self._waiters: collections.deque[threading.Event] = collections.deque()

    def acquire(self, blocking: bool = True) -> bool:
        with self._inner:
            if not self._waiters and self._lock.acquire(False):
                return True
            if not blocking:
                return False
            ticket = threading.Event()
            self._waiters.append(ticket)
        ticket.wait()
        return True  # the releaser handed the (still held) lock to us

    def release(self) -> None:
        with self._inner:
            if self._waiters:
                # hand over without unlocking, so no newcomer can jump the queue
                self._waiters.popleft().set()
            else:
                self._lock.release()

    def waiting(self) -> int:
        """How many callers wait for the lock."""
        with self._inner:
            return len(self._waiters)

    def __enter__(self) -> "FIFOLock":
        self.acquire()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


queue_lock = FIFOLock()
"""The process's one lock (A1111's ``modules.call_queue.queue_lock``): jobs run one at a time, in arrival order."""
