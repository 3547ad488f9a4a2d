"""A lock that hands itself to waiters in arrival order (A1111's ``FIFOLock``, the ``queue_lock``).

Every generation from the UI and the API takes this lock, so jobs run one at a
time in the order they arrived.
"""
from __future__ import annotations

import collections
import contextlib
import threading
from types import TracebackType
from typing import Iterator


class FIFOLock:
    """A re-entrant-free mutex granting the lock strictly first come, first served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inner = threading.Lock()
        self._waiters: collections.deque[threading.Event] = collections.deque()
        self._owner: int | None = None
        """The thread holding the lock (``threading.get_ident``), None while free."""

    def acquire(self, blocking: bool = True) -> bool:
        with self._inner:
            if not self._waiters and self._lock.acquire(False):
                self._owner = threading.get_ident()
                return True
            if not blocking:
                return False
            ticket = threading.Event()
            self._waiters.append(ticket)
        ticket.wait()
        # the releaser handed the (still held) lock to us
        with self._inner:
            self._owner = threading.get_ident()
        return True

    def release(self) -> None:
        with self._inner:
            self._owner = None
            if self._waiters:
                # hand over without unlocking, so no newcomer can jump the queue
                self._waiters.popleft().set()
            else:
                self._lock.release()

    def held_here(self) -> bool:
        """True when the calling thread holds the lock."""
        with self._inner:
            return self._owner == threading.get_ident()

    @contextlib.contextmanager
    def lent(self) -> Iterator[bool]:
        """Let the next in line have the lock while the block runs, then take it back (in line again).

        For a job that only waits for work done elsewhere (``--ray``: its chunks run on worker actors): the jobs
        and other users of the lock waiting behind it go on meanwhile.  Nothing is lent when the calling thread
        does not hold the lock (the block runs as it is); yields whether it was lent.
        """
        if not self.held_here():
            yield False
            return
        self.release()
        try:
            yield True
        finally:
            self.acquire()

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
