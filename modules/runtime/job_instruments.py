"""What is measured around every job of the queue: device memory (A1111's memmon, the "A / R / Sys" line under the
gallery) and, with setting ``profiling_enable``, a torch profiler trace (A1111's ``modules.profiling``).

The memory monitor polls ``memmon_poll_rate`` times a second while the job runs and
keeps the peaks; as in A1111 it works only on CUDA (elsewhere it is disabled and the
page shows only the time taken).  The profiler writes ``profiling_filename`` (inside
the data dir) after each job, overwriting the previous one.
"""
from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from modules.core.services import current_services


@dataclass(frozen=True)
class MemoryStats:
    """Peaks of one job, in bytes: memory torch used (active) and held (reserved), and what the whole device had in
    use at its fullest (system), out of ``total``."""

    active_peak: int
    reserved_peak: int
    system_peak: int
    total: int


class MemoryMonitor:
    """Polls the device's free memory on a thread while a job runs (``start`` ... ``stop``); ``cuda`` is
    ``torch.cuda`` or a stand-in with ``mem_get_info``, ``memory_stats`` and ``reset_peak_memory_stats``."""

    def __init__(self, device: Any, poll_rate: float, cuda: Any = None) -> None:
        self.device = device
        self.poll_rate = poll_rate
        self.cuda = cuda
        self.disabled = poll_rate <= 0 or cuda is None or getattr(device, "type", str(device)) != "cuda"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._min_free = 0
        if not self.disabled:
            try:
                cuda.mem_get_info(device)
            except (RuntimeError, AssertionError):  # a driver that cannot tell: no line, as A1111
                self.disabled = True

    def start(self) -> None:
        if self.disabled:
            return
        self.cuda.reset_peak_memory_stats(self.device)
        self._min_free = self.cuda.mem_get_info(self.device)[0]
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, name="memmon", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(1 / self.poll_rate):
            self._min_free = min(self._min_free, self.cuda.mem_get_info(self.device)[0])

    def stop(self) -> MemoryStats | None:
        """End polling; the job's peaks (None when disabled)."""
        if self.disabled:
            return None
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        free, total = self.cuda.mem_get_info(self.device)
        self._min_free = min(self._min_free, free)
        stats = self.cuda.memory_stats(self.device)
        return MemoryStats(active_peak=int(stats.get("active_bytes.all.peak", 0)),
                           reserved_peak=int(stats.get("reserved_bytes.all.peak", 0)),
                           system_peak=int(total - self._min_free), total=int(total))


def _setting(name: str, default: Any) -> Any:
    opts = current_services().opts
    return getattr(opts, name, default) if opts is not None else default


def _device() -> Any:
    config = current_services().device_config
    return getattr(config, "device", None)


def memory_monitor(cuda: Any = None) -> MemoryMonitor:
    """A monitor for the app's device at setting ``memmon_poll_rate`` (torch's CUDA module unless ``cuda``)."""
    if cuda is None:
        import torch  # torch on first use: the API start path stays light

        cuda = torch.cuda if torch.cuda.is_available() else None
    return MemoryMonitor(_device(), float(_setting("memmon_poll_rate", 8) or 0), cuda)


def profile_path() -> str:
    """Setting ``profiling_filename``, relative to the data dir."""
    name = str(_setting("profiling_filename", "trace.json") or "trace.json")
    paths = current_services().paths
    return name if os.path.isabs(name) or paths is None else os.path.join(paths.data_dir, name)


@contextlib.contextmanager
def profiled(on_finishing: Callable[[], None] = lambda: None) -> Iterator[str | None]:
    """Run the block under torch's profiler when ``profiling_enable`` is on with at least one of
    ``profiling_activities``; the trace goes to :func:`profile_path` (yielded; None when not profiling)."""
    activities_setting = _setting("profiling_activities", ["CPU"]) or []
    if not _setting("profiling_enable", False):
        yield None
        return
    import torch  # torch on first use: the API start path stays light

    activities = [activity for name, activity in (("CPU", torch.profiler.ProfilerActivity.CPU),
                                                  ("CUDA", torch.profiler.ProfilerActivity.CUDA))
                  if name in activities_setting and (name != "CUDA" or torch.cuda.is_available())]
    if not activities:
        yield None
        return
    path = profile_path()
    profiler = torch.profiler.profile(activities=activities, record_shapes=bool(_setting("profiling_record_shapes", True)),
                                      profile_memory=bool(_setting("profiling_profile_memory", True)),
                                      with_stack=bool(_setting("profiling_with_stack", True)))
    with profiler:
        yield path
        on_finishing()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    profiler.export_chrome_trace(path)


@contextlib.contextmanager
def instrumented(job: Any) -> Iterator[None]:
    """Measure ``job`` while the block runs it: ``job.memory`` gets its :class:`MemoryStats` (or None) and
    ``job.profile`` the trace file written (or None)."""
    monitor = memory_monitor()
    monitor.start()

    def finishing() -> None:
        state = current_services().state
        if state is not None:
            state.textinfo = "Finishing profile..."

    try:
        with profiled(finishing) as path:
            job.profile = path
            yield
    finally:
        job.memory = monitor.stop()


def memory_html(stats: MemoryStats | None) -> str:
    """A1111's line under the gallery: ``A: 1.23 GB, R: 2.34 GB, Sys: 3.4/24 GB (14.2%)`` ('' without stats)."""
    if stats is None:
        return ""
    mib = {name: -(value // -(1024 * 1024)) for name, value in vars(stats).items()}  # rounded up, as A1111
    percent = mib["system_peak"] / max(mib["total"], 1) * 100
    tip_a = "Active: peak amount of video memory used during generation (excluding cached data)"
    tip_r = "Reserved: total amount of video memory allocated by the Torch library "
    tip_sys = "System: peak amount of video memory allocated by all running programs, out of total capacity"
    text_a = f"<abbr title='{tip_a}'>A</abbr>: <span class='measurement'>{mib['active_peak'] / 1024:.2f} GB</span>"
    text_r = f"<abbr title='{tip_r}'>R</abbr>: <span class='measurement'>{mib['reserved_peak'] / 1024:.2f} GB</span>"
    text_sys = (f"<abbr title='{tip_sys}'>Sys</abbr>: <span class='measurement'>{mib['system_peak'] / 1024:.1f}/"
                f"{mib['total'] / 1024:g} GB</span> ({percent:.1f}%)")
    return f"<p class='vram'>{text_a}, <wbr>{text_r}, <wbr>{text_sys}</p>"


def add_memory_line(log_html: str, stats: MemoryStats | None) -> str:
    """``log_html`` with :func:`memory_html` put inside its closing ``<div class='performance'>`` block."""
    line = memory_html(stats)
    if not line or "<div class='performance'>" not in log_html or not log_html.endswith("</div>"):
        return log_html
    return log_html[:-len("</div>")] + line + "</div>"
