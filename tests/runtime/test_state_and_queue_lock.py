"""The FIFO queue lock runs jobs in arrival order; State counts progress as A1111."""
from __future__ import annotations

import threading
import time

from modules.runtime.queue_lock import FIFOLock
from modules.runtime.state import State


def test_lock_is_granted_in_arrival_order():
    lock = FIFOLock()
    order = []
    lock.acquire()
    threads = []
    for i in range(5):
        t = threading.Thread(target=lambda i=i: (lock.acquire(), order.append(i), lock.release()))
        t.start()
        threads.append(t)
        while lock.waiting() < i + 1:  # make the arrival order certain
            time.sleep(0.001)
    lock.release()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_non_blocking_acquire():
    lock = FIFOLock()
    assert lock.acquire(blocking=False)
    assert not lock.acquire(blocking=False)
    lock.release()
    with lock:
        assert lock.waiting() == 0


def test_state_progress_and_requests():
    s = State()
    s.begin("txt2img", task_id="task(1)")
    assert s.progress() == 0.0
    s.job_count = 2
    s.sampling_steps = 10
    s.sampling_step = 5
    assert s.progress() == 0.25
    s.nextjob()
    assert s.progress() == 0.5
    s.skip()
    s.interrupt()
    assert s.dict()["skipped"] and s.dict()["interrupted"] and s.dict()["job"] == "txt2img"
    s.begin("next")
    assert not s.skipped and not s.interrupted
    s.end()
    assert s.current_task_id is None


def test_a_step_beginning_inside_a_task_keeps_the_task_id():
    """Extras call ``state.begin(job="extras")`` inside the queued task: the page still follows that task."""
    from modules.runtime.state import State

    s = State()
    s.begin("extras-task", task_id="task(abc)")
    s.begin(job="extras")
    assert s.current_task_id == "task(abc)" and s.job == "extras"
    s.end()
    assert s.current_task_id is None
    s.begin(job="plain")
    assert s.current_task_id is None
