"""Jobs side by side (``--ray`` with several workers: one queue slot per worker).

A job whose pictures are made elsewhere lends ``queue_lock`` while it waits for them, so the next job in line
starts meanwhile; each such job has its own state (``services.state`` inside it), so progress, interrupt and
skip stay with their task; work done in this process (a job that does not lend the lock) stays one at a time;
with one slot (the default) nothing changes.
"""
from __future__ import annotations

import threading
import time

import pytest

from modules.core.services import current_services, job_state_scope
from modules.runtime import jobs
from modules.runtime.queue_lock import FIFOLock
from modules.runtime.state import JobState, State


def make_queue(slots: int) -> tuple[jobs.JobQueue, FIFOLock, State]:
    lock, process_state = FIFOLock(), State()
    queue = jobs.JobQueue(lock=lock, state_getter=lambda: process_state)
    queue.set_slots(slots)
    return queue, lock, process_state


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class RemoteJob:
    """A job that waits for "workers" (an event) with the queue lock lent, as the Ray executor's jobs do."""

    def __init__(self, lock: FIFOLock) -> None:
        self.lock = lock
        self.waiting = threading.Event()
        self.release = threading.Event()
        self.state = None
        self.task_seen = None
        self.lent = None

    def __call__(self) -> str:
        self.state = current_services().state  # outside jobs run side by side: the installed services' own
        self.task_seen = getattr(self.state, "current_task_id", None)
        with self.lock.lent() as lent:
            self.lent = lent
            self.waiting.set()
            assert self.release.wait(10)
        return "interrupted" if getattr(self.state, "interrupted", False) else "done"


def two_waiting_jobs(queue: jobs.JobQueue, lock: FIFOLock) -> tuple[RemoteJob, RemoteJob, jobs.Job, jobs.Job]:
    """Jobs ``task(a)`` and ``task(b)`` submitted, both waiting for their workers at the same time."""
    a, b = RemoteJob(lock), RemoteJob(lock)
    job_a, job_b = queue.submit(a, task_id="task(a)"), queue.submit(b, task_id="task(b)")
    assert a.waiting.wait(10) and b.waiting.wait(10)
    return a, b, job_a, job_b


def test_two_slots_run_two_waiting_jobs_at_once_each_with_its_own_state():
    queue, lock, process_state = make_queue(2)
    a, b, job_a, job_b = two_waiting_jobs(queue, lock)
    assert a.lent and b.lent
    assert [job.task_id for job in queue.running()] == ["task(a)", "task(b)"]
    assert isinstance(a.state, JobState) and a.state is not b.state and process_state not in (a.state, b.state)
    assert (a.task_seen, b.task_seen) == ("task(a)", "task(b)")
    assert queue.state_of(job_a) is a.state and queue.state_of(job_b) is b.state
    assert process_state.current_task_id is None  # the process's state describes neither
    assert queue.current() is job_a  # the one that started first (A1111's /sdapi/v1/progress)
    assert queue.running_states() == [process_state, a.state, b.state]
    a.release.set()
    b.release.set()
    assert queue.wait_idle(10)
    assert (job_a.take_result(), job_b.take_result()) == ("done", "done")
    queue.shutdown(5)


def test_cancelling_one_running_job_interrupts_only_that_job():
    queue, lock, _ = make_queue(2)
    a, b, job_a, job_b = two_waiting_jobs(queue, lock)
    queue.cancel("task(b)")
    assert b.state.interrupted and not a.state.interrupted
    a.release.set()
    b.release.set()
    assert queue.wait_idle(10)
    assert job_a.status == jobs.DONE and job_a.take_result() == "done"
    assert job_b.status == jobs.CANCELLED
    queue.shutdown(5)


def test_a_third_job_waits_for_a_free_slot_and_keeps_its_place():
    queue, lock, _ = make_queue(2)
    a, b, _, _ = two_waiting_jobs(queue, lock)
    c = RemoteJob(lock)
    job_c = queue.submit(c, task_id="task(c)")
    time.sleep(0.2)
    assert not c.waiting.is_set() and job_c.status == jobs.QUEUED and queue.position(job_c) == 1
    b.release.set()
    assert c.waiting.wait(10)  # b's slot went to c
    a.release.set()
    c.release.set()
    assert queue.wait_idle(10)
    queue.shutdown(5)


def test_jobs_working_in_this_process_still_run_one_at_a_time():
    """A job that keeps the lock (work done here: a local generation, training) never overlaps another."""
    queue, lock, _ = make_queue(2)
    inside, overlaps = [], []

    def local_job(name: str):
        def run() -> str:
            inside.append(name)
            if len(inside) > 1:
                overlaps.append(tuple(inside))
            time.sleep(0.2)
            inside.remove(name)
            return name
        return run

    submitted = [queue.submit(local_job(f"j{i}"), task_id=f"task(j{i})") for i in range(3)]
    assert queue.wait_idle(10)
    assert [job.take_result() for job in submitted] == ["j0", "j1", "j2"] and overlaps == []
    queue.shutdown(5)


def test_a_local_job_runs_while_a_remote_one_waits_and_the_remote_one_finishes_after_it():
    queue, lock, _ = make_queue(2)
    remote = RemoteJob(lock)
    order: list[str] = []
    job_remote = queue.submit(remote, task_id="task(remote)")
    assert remote.waiting.wait(10)

    def local() -> None:
        order.append("local start")
        remote.release.set()  # the remote job's pictures arrive while the local job holds the lock
        time.sleep(0.2)
        order.append("local end")

    queue.submit(local, task_id="task(local)")
    job_remote.add_done_callback(lambda job: order.append("remote end"))
    assert queue.wait_idle(10)
    assert order == ["local start", "local end", "remote end"]  # it took the lock back in line
    queue.shutdown(5)


def test_one_slot_keeps_the_process_state_and_one_job_at_a_time():
    queue, lock, process_state = make_queue(1)
    a, b = RemoteJob(lock), RemoteJob(lock)
    job_a, job_b = queue.submit(a, task_id="task(a)"), queue.submit(b, task_id="task(b)")
    assert a.waiting.wait(10)
    time.sleep(0.2)
    assert not b.waiting.is_set() and job_b.status == jobs.QUEUED  # no second slot, though the lock is lent
    assert job_a.state is None and queue.state_of(job_a) is process_state
    assert a.state is current_services().process_state and queue.running_states() == [process_state]
    a.release.set()
    assert b.waiting.wait(10) and job_b.state is None
    b.release.set()
    assert queue.wait_idle(10)
    queue.shutdown(5)


def test_fewer_slots_take_effect_as_jobs_end():
    queue, lock, _ = make_queue(2)
    a, b, _, _ = two_waiting_jobs(queue, lock)
    c = RemoteJob(lock)
    queue.set_slots(1)
    queue.submit(c, task_id="task(c)")
    a.release.set()
    time.sleep(0.3)
    assert not c.waiting.is_set()  # b still runs: one slot is all there is now
    b.release.set()
    assert c.waiting.wait(10)
    c.release.set()
    assert queue.wait_idle(10)
    queue.shutdown(5)


def test_lending_the_lock_needs_holding_it():
    lock = FIFOLock()
    with lock.lent() as lent:
        assert lent is False and not lock.held_here()
    got = []
    with lock:
        assert lock.held_here()
        waiter = threading.Thread(target=lambda: (lock.acquire(), got.append("other"), lock.release()))
        waiter.start()
        assert wait_until(lambda: lock.waiting() == 1)
        with lock.lent() as lent:
            assert lent and not lock.held_here()
            waiter.join(5)
            assert got == ["other"]  # the next in line had it meanwhile
        assert lock.held_here()
    assert not lock.held_here() and lock.acquire(blocking=False)
    lock.release()


def test_services_state_is_the_jobs_own_only_inside_its_scope():
    services = current_services()
    process_state = services.process_state
    own = JobState(process_state)
    seen_elsewhere = []
    with job_state_scope(own):
        assert services.state is own
        other = threading.Thread(target=lambda: seen_elsewhere.append(services.state))
        other.start()
        other.join(5)
    assert services.state is process_state and seen_elsewhere == [process_state]  # a plain thread: the process's


def test_a_job_state_sends_server_commands_to_the_process_state():
    process_state = State()
    own = JobState(process_state)
    own.request_restart()
    assert own.interrupted and not process_state.interrupted
    assert process_state.wait_for_server_command(1) == "restart"


def test_xyz_cells_run_in_the_jobs_own_state(monkeypatch):
    """The X/Y/Z plot runs its cells in threads when an executor has several workers: they keep the job's state."""
    from modules.builtin_scripts import xyz_plot

    class TwoWorkers:
        def parallel_slots(self) -> int:
            return 2

    monkeypatch.setattr(xyz_plot, "current_executor", lambda: TwoWorkers())
    own = JobState(State())
    with job_state_scope(own):
        cells = list(xyz_plot._cells_in_order([(0, 0, 0), (1, 0, 0)], ["x", "y", "z"], [0, 1], [0], [0],
                                              lambda *args: current_services().state, own))
    assert [cell[3] for cell in cells] == [own, own]


@pytest.fixture(autouse=True)
def _no_scope_leaks():
    yield
    assert current_services().state is current_services().process_state


def test_the_routes_without_a_task_id_reach_every_running_job(monkeypatch):
    """``/sdapi/v1/skip`` and ``/sdapi/v1/interrupt`` name no task: both running jobs get them; ``/sdapi/v1/progress``
    describes the job that started first."""
    from modules.api import routes_progress

    queue, lock, process_state = make_queue(2)
    monkeypatch.setattr(routes_progress, "_queue", lambda: queue)
    a, b, job_a, _ = two_waiting_jobs(queue, lock)
    a.state.job_count, b.state.job_count = 3, 5
    assert routes_progress.state_snapshot()["job_count"] == 3 and queue.current() is job_a
    routes_progress.skipapi()
    assert a.state.skipped and b.state.skipped
    routes_progress.interruptapi()
    assert a.state.interrupted and b.state.interrupted and process_state.interrupted
    a.release.set()
    b.release.set()
    assert queue.wait_idle(10)
    queue.shutdown(5)
