"""A1111's start-up profile: named steps with their durations, printed at the end."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


class Timer:
    """Records how long each named step took, in order (``shared.startup_timer``)."""

    def __init__(self, print_log: bool = False) -> None:
        self.start = time.perf_counter()
        self.last = self.start
        self.records: dict[str, float] = {}
        self.order: list[str] = []
        self.print_log = print_log

    def record(self, category: str, extra_time: float = 0.0) -> None:
        """Add the time since the previous record to ``category``."""
        now = time.perf_counter()
        elapsed = now - self.last + extra_time
        self.last = now
        if category not in self.records:
            self.order.append(category)
        self.records[category] = self.records.get(category, 0.0) + elapsed
        if self.print_log:
            print(f"{elapsed:.3f}s: {category}", flush=True)

    @contextmanager
    def subcategory(self, name: str) -> Iterator[None]:
        """Time a block as its own step (the time before it is recorded under ``name`` too)."""
        self.last = time.perf_counter()
        yield
        self.record(name)

    def total(self) -> float:
        return time.perf_counter() - self.start

    def summary(self) -> str:
        """``1.2s (prepare environment: 0.3s, list models: 0.1s, ...)``; steps under 0.1 s are left out."""
        parts = [f"{name}: {self.records[name]:.1f}s" for name in self.order if self.records[name] >= 0.1]
        total = f"{self.total():.1f}s"
        return f"{total} ({', '.join(parts)})" if parts else total

    def dump(self) -> dict:
        """Every step, for ``/internal/profile-startup``."""
        return {"total": self.total(), "records": {name: self.records[name] for name in self.order}}

    def reset(self) -> None:
        self.__init__(self.print_log)  # type: ignore[misc]
