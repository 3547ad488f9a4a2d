"""How a unit reaches the device: a plain copy, or (CUDA) a copy on a second stream started while the
previous block computes.

The CUDA path is written against the ``torch.cuda`` API (Stream, Event, stream(), current_stream()) handed
in as ``cuda``, so it is unit-tested on the CPU with a fake that records the calls; no GPU was at hand
when it was written.
"""
from __future__ import annotations

from typing import Any

import torch

from modules.models.memory.units import CopyPool, WeightUnit


class SyncTransfer:
    """Copies when the unit is needed.  ``copy`` forces real copies when the device is the CPU itself, into
    the buffers of ``pool`` when one is given."""

    prefetches = False

    def __init__(self, device: torch.device, copy: bool = False, pool: CopyPool | None = None) -> None:
        self.device = device
        self.copy = copy
        self.pool = pool if copy and device.type == "cpu" else None

    def start(self, unit: WeightUnit) -> None:
        """Nothing to start ahead: :meth:`ready` copies."""

    def ready(self, unit: WeightUnit) -> None:
        unit.move_in(self.device, copy=self.copy, pool=self.pool)


class CudaPrefetch:
    """Copies the next streamed block on a side stream while the current one runs on the compute stream.

    ``start`` issues the copy (pinned home tensors make it asynchronous) and records an event; ``ready``
    makes the compute stream wait for that event and tells the caching allocator that the copies are used
    there (``record_stream``), so their memory is not handed out again before the compute stream is done.
    """

    prefetches = True

    def __init__(self, device: torch.device, cuda: Any = None) -> None:
        self.device = device
        self.cuda = cuda if cuda is not None else torch.cuda
        self.stream = self.cuda.Stream(device)

    def start(self, unit: WeightUnit) -> None:
        if unit.on_device:
            return
        with self.cuda.stream(self.stream):
            unit.move_in(self.device, non_blocking=True)
            event = self.cuda.Event()
            event.record(self.stream)
        unit.pending = event

    def ready(self, unit: WeightUnit) -> None:
        if not unit.on_device:
            unit.move_in(self.device, non_blocking=True)
            return
        if unit.pending is not None:
            compute = self.cuda.current_stream(self.device)
            compute.wait_event(unit.pending)
            for tensor in unit.tensors:
                tensor.data.record_stream(compute)
            unit.pending = None
