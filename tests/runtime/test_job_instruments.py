"""What is measured around each job: the device memory line under the gallery (A1111's memmon, CUDA only, here with
a stand-in for ``torch.cuda``) and the torch profiler trace of settings ``profiling_*``, written per job."""
from __future__ import annotations

import json
import threading
import time

import torch

from modules.runtime.job_instruments import MemoryMonitor, MemoryStats, add_memory_line, memory_html

GIB = 1024 ** 3


class FakeCuda:
    """``mem_get_info`` answers the next free value of ``free`` (the last one repeats); fixed torch peaks."""

    def __init__(self, free: list[int], total: int = 24 * GIB) -> None:
        self.free = list(free)
        self.total = total
        self.calls = 0
        self.resets = 0
        self.polled = threading.Event()

    def mem_get_info(self, device):
        self.calls += 1
        if self.calls > 3:
            self.polled.set()
        value = self.free.pop(0) if len(self.free) > 1 else self.free[0]
        return value, self.total

    def memory_stats(self, device):
        return {"active_bytes.all.peak": int(1.5 * GIB), "reserved_bytes.all.peak": 2 * GIB + 1}

    def reset_peak_memory_stats(self, device):
        self.resets += 1


def test_monitor_keeps_the_lowest_free_memory_seen_while_the_job_ran():
    cuda = FakeCuda([20 * GIB, 20 * GIB, 14 * GIB, 18 * GIB, 19 * GIB])
    monitor = MemoryMonitor(torch.device("cuda", 0), poll_rate=200, cuda=cuda)
    monitor.start()
    assert cuda.polled.wait(10)
    stats = monitor.stop()
    assert cuda.resets == 1
    assert stats == MemoryStats(active_peak=int(1.5 * GIB), reserved_peak=2 * GIB + 1, system_peak=10 * GIB,
                                total=24 * GIB)


def test_monitor_is_off_on_the_cpu_and_with_poll_rate_zero():
    for device, rate in ((torch.device("cpu"), 8), (torch.device("cuda", 0), 0)):
        cuda = FakeCuda([GIB])
        monitor = MemoryMonitor(device, poll_rate=rate, cuda=cuda)
        monitor.start()
        assert monitor.disabled and monitor.stop() is None and cuda.resets == 0
    assert MemoryMonitor(torch.device("cuda", 0), 8, cuda=None).disabled


def test_memory_line_is_a1111s():
    stats = MemoryStats(active_peak=int(1.5 * GIB), reserved_peak=2 * GIB + 1, system_peak=10 * GIB, total=24 * GIB)
    line = memory_html(stats)
    text = "".join(part.split(">", 1)[-1] for part in line.split("<"))  # the text without tags
    assert text == "A: 1.50 GB, R: 2.00 GB, Sys: 10.0/24 GB (41.7%)"
    log = "<p>x</p><div class='performance'><p class='time'>Time taken: 1.0 sec.</p></div>"
    assert add_memory_line(log, stats) == log[:-6] + line + "</div>"
    assert add_memory_line(log, None) == log and memory_html(None) == ""


def test_jobs_on_the_cpu_have_no_memory_line_and_no_profile_by_default(started):
    from modules.runtime.jobs import submit

    started("--skip-load-model-at-start")
    job = submit("task(instruments-off)", lambda: torch.ones(4).sum().item())
    assert job.done.wait(30) and job.result == 4.0
    assert job.memory is None and job.profile is None


def test_profiling_writes_a_chrome_trace_per_job(started, data_dir):
    from modules import shared
    from modules.runtime.jobs import submit

    started("--skip-load-model-at-start")
    shared.opts.set("profiling_enable", True)
    shared.opts.set("profiling_with_stack", False)
    shared.opts.set("profiling_filename", "traces/job.json")
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    job = submit("task(profiled-1)", lambda: (a @ b).sum().item())
    assert job.done.wait(60) and job.error is None
    trace = data_dir / "traces" / "job.json"
    assert job.profile == str(trace)
    names = {event.get("name") for event in json.loads(trace.read_text())["traceEvents"]}
    assert "aten::mm" in names
    first = trace.stat().st_mtime_ns
    time.sleep(0.01)
    job = submit("task(profiled-2)", lambda: torch.ones(3).sum().item())
    assert job.done.wait(60)
    assert trace.stat().st_mtime_ns > first and "aten::mm" not in trace.read_text()  # overwritten by the next job
    shared.opts.set("profiling_activities", [])
    job = submit("task(profiled-3)", lambda: 1)
    assert job.done.wait(60) and job.profile is None
