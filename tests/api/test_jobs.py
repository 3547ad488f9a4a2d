"""The one job queue: arrival order, one at a time, task ids, cancel and interrupt by id, previews per task."""
from __future__ import annotations

import threading
import time

import pytest

from modules.runtime import jobs
from modules.runtime.queue_lock import FIFOLock
from modules.runtime.state import State


def make_queue():
    state = State()
    return jobs.JobQueue(lock=FIFOLock(), state_getter=lambda: state), state


def test_jobs_run_one_at_a_time_in_arrival_order_with_their_task_ids():
    queue, state = make_queue()
    gate = threading.Event()
    log, running = [], []

    def job(name):
        def run():
            running.append(name)
            assert len(running) == 1, "two jobs ran at once"
            log.append((name, state.current_task_id, state.job))
            if name == "a":
                gate.wait(10)
            time.sleep(0.01)
            running.remove(name)
            return name.upper()
        return run

    submitted = [queue.submit(job(n), task_id=f"task({n})", name=f"job-{n}") for n in "abcde"]
    time.sleep(0.05)
    assert [queue.position(j) for j in submitted] == [0, 1, 2, 3, 4]
    assert [j.task_id for j in queue.pending()] == [f"task({n})" for n in "bcde"]
    gate.set()
    assert queue.wait_idle(10)
    assert log == [(n, f"task({n})", f"job-{n}") for n in "abcde"]
    assert [j.status for j in submitted] == ["done"] * 5
    assert [j.take_result() for j in submitted] == list("ABCDE")
    assert state.job_count == 0 and state.current_task_id is None
    assert all(j.started >= j.created and j.finished >= j.started for j in submitted)


def test_run_returns_the_result_or_raises_the_jobs_error_and_the_worker_survives():
    queue, _ = make_queue()
    assert queue.run(lambda: 41 + 1, task_id="t1") == 42
    with pytest.raises(ZeroDivisionError):
        queue.run(lambda: 1 / 0, task_id="t2")
    assert queue.get("t2").status == "failed"
    assert queue.run(lambda: "still here", task_id="t3") == "still here"


def test_a_job_submitting_a_job_runs_it_inline_instead_of_deadlocking():
    queue, _ = make_queue()
    assert queue.run(lambda: queue.run(lambda: "inner", task_id="inner"), task_id="outer") == "inner"


def test_the_queue_takes_the_same_fifo_lock_as_everyone_else():
    lock = FIFOLock()
    queue = jobs.JobQueue(lock=lock, state_getter=lambda: None)
    order = []
    lock.acquire()  # e.g. an extras request holding queue_lock
    job = queue.submit(lambda: order.append("job"), task_id="t")
    time.sleep(0.05)
    assert job.status == "queued" and queue.position(job) == 1
    order.append("holder")
    lock.release()
    assert queue.wait_idle(5) and order == ["holder", "job"]


def test_duplicate_task_id_is_refused_while_it_is_pending_and_reusable_after():
    queue, _ = make_queue()
    gate = threading.Event()
    queue.submit(lambda: gate.wait(5), task_id="same")
    with pytest.raises(jobs.DuplicateTaskError):
        queue.submit(lambda: None, task_id="same")
    gate.set()
    queue.wait_idle(5)
    assert queue.run(lambda: 7, task_id="same") == 7


def test_cancel_a_queued_job_removes_it_and_wakes_its_waiter():
    queue, _ = make_queue()
    gate = threading.Event()
    first = queue.submit(lambda: gate.wait(5), task_id="first")
    second = queue.submit(lambda: pytest.fail("cancelled job ran"), task_id="second")
    third = queue.submit(lambda: "third", task_id="third")
    time.sleep(0.05)
    assert queue.cancel("second") is second and second.status == "cancelled"
    assert second.done.is_set() and queue.position(second) is None
    with pytest.raises(jobs.JobCancelledError):
        second.take_result()
    assert [j.task_id for j in queue.pending()] == ["third"]
    gate.set()
    queue.wait_idle(5)
    assert first.status == "done" and third.take_result() == "third"
    assert queue.cancel("nope") is None


def test_cancel_the_running_job_interrupts_only_it():
    queue, state = make_queue()
    started = threading.Event()
    seen = {}

    def long_job():
        started.set()
        deadline = time.time() + 5
        while not state.interrupted and time.time() < deadline:
            time.sleep(0.005)
        seen["a"] = state.interrupted
        return "partial"

    def next_job(name):
        seen[name] = state.interrupted
        return "full"

    a = queue.submit(long_job, task_id="a")
    b = queue.submit(lambda: next_job("b"), task_id="b")
    started.wait(5)
    queue.cancel("b")  # queued: just removed
    c = queue.submit(lambda: next_job("c"), task_id="c")
    queue.cancel("a")
    queue.wait_idle(5)
    assert seen == {"a": True, "c": False}
    assert a.status == "cancelled" and a.take_result() == "partial"
    assert c.status == "done" and c.take_result() == "full" and b.status == "cancelled"


def test_finished_jobs_are_remembered_up_to_a_limit_and_results_are_dropped_first():
    queue, _ = make_queue()
    queue.history_limit, queue.kept_results_limit = 5, 2
    for i in range(8):
        queue.submit(lambda i=i: i, task_id=f"t{i}", keep_result=True)
    queue.wait_idle(5)
    remembered = [j.task_id for j in queue.jobs()]
    assert remembered == [f"t{i}" for i in range(3, 8)]
    assert [queue.get(t).result for t in remembered] == [None, None, None, 6, 7]
    assert queue.forget("t7") and queue.get("t7") is None and not queue.forget("t7")


def test_external_tasks_are_tracked_like_a1111_progress_module(monkeypatch):
    queue, state = make_queue()
    monkeypatch.setattr(jobs, "_QUEUE", queue)
    from modules import progress

    task = progress.create_task_id("txt2img")
    assert task.startswith("task(txt2img-") and len(task) == len("task(txt2img-)") + 7
    progress.add_task_to_queue(task)
    assert progress.get_pending_tasks() == {"size": 1, "tasks": [task]}
    progress.start_task(task)
    assert queue.current().task_id == task and progress.get_pending_tasks()["size"] == 0
    progress.record_results(task, "result")
    progress.finish_task(task)
    assert queue.get(task).status == "done" and progress.restore_progress(task) == "result"


def test_restore_waits_for_outputs_recorded_after_the_job_ended(monkeypatch):
    """A reloaded page's 🌀 asks while the job runs: the queue marks the job done a moment before the thread that
    ran it records the page's outputs; the restore must wait for those, not answer None in between."""
    import threading

    queue, state = make_queue()
    monkeypatch.setattr(jobs, "_QUEUE", queue)
    from modules.runtime import progress

    task = progress.create_task_id("txt2img")
    progress.add_task_to_queue(task)
    progress.start_task(task)
    answers: list = []
    restoring = threading.Thread(target=lambda: answers.append(progress.restore_progress(task)))
    restoring.start()
    progress.finish_task(task)  # done in the queue, outputs not yet recorded
    restoring.join(0.3)
    assert restoring.is_alive(), "answered before the outputs were recorded"
    progress.record_results(task, "pictures")
    restoring.join(5)
    assert answers == ["pictures"]
    monkeypatch.setattr(progress, "RESULT_WAIT_S", 0.2)
    forgotten = progress.create_task_id("txt2img")
    progress.add_task_to_queue(forgotten)
    progress.start_task(forgotten)
    progress.finish_task(forgotten)
    assert progress.restore_progress(forgotten) is None  # never recorded: bounded wait, then nothing


def test_previews_belong_to_their_task(monkeypatch):
    import torch

    queue, state = make_queue()
    from modules.processing import live_preview

    monkeypatch.setattr(live_preview, "_opts", lambda: None)
    monkeypatch.setattr(live_preview, "preview_due", lambda step, last, none_yet: True)
    inside = threading.Event()
    leave = threading.Event()

    def job():
        state.current_latent = torch.zeros(1, 4, 2, 3)
        state.sampling_step = 1
        inside.set()
        leave.wait(5)

    running = queue.submit(job, task_id="running")
    waiting = queue.submit(lambda: None, task_id="waiting")
    inside.wait(5)
    queue.refresh_preview(waiting)
    assert waiting.preview is None
    queue.refresh_preview(running)
    assert running.preview.size == (3, 2) and running.preview_id == 1
    assert running.preview.getpixel((0, 0)) == (128, 128, 128)  # a zero latent is mid-grey
    assert state.current_image is running.preview
    leave.set()
    queue.wait_idle(5)
    queue.refresh_preview(running)  # finished: no new preview
    assert running.preview_id == 1 and waiting.preview is None


def test_a_task_announced_a1111_style_can_then_run_through_the_queue(monkeypatch):
    queue, _ = make_queue()
    monkeypatch.setattr(jobs, "_QUEUE", queue)
    from modules import progress

    progress.add_task_to_queue("task(ui-1)")
    assert jobs.run_job("task(ui-1)", lambda: "made", name="txt2img") == "made"
    assert queue.get("task(ui-1)").status == "done" and not queue.get("task(ui-1)").external


def test_shutdown_lets_the_running_job_end_and_starts_no_other():
    queue, _ = make_queue()
    gate, started = threading.Event(), threading.Event()

    def long_job():
        started.set()
        assert gate.wait(5)
        return "ran"

    running = queue.submit(long_job, task_id="running")
    waiting = queue.submit(lambda: "must not run", task_id="waiting")
    assert started.wait(5)
    assert queue.shutdown(0) is False  # still running
    gate.set()
    assert queue.shutdown(5)
    assert running.status == "done" and running.take_result() == "ran"
    assert waiting.status == "queued" and queue.wait_idle(1)  # stays queued (a stored one resumes at the next start)
    with pytest.raises(RuntimeError, match="stopped"):
        queue.submit(lambda: None, task_id="late")
