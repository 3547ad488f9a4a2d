"""The job store: requests without inline pictures, a corrupt file moved aside, the waiting-jobs cap, retention
with the queue's limits, and a restart of the queue on the same store (no model: a tiny echo kind)."""
from __future__ import annotations

import base64
import io
import os
import sqlite3
import threading
import time

import pytest
from PIL import Image

from modules.runtime import jobs
from modules.runtime.job_kinds import INTERRUPTED, JobInterruptedError, JobKind
from modules.runtime.job_store import DB_NAME, JobStore, StoredResult
from modules.runtime.queue_lock import FIFOLock
from modules.runtime.state import State


def picture_bytes(fmt: str = "PNG", colour=(200, 10, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format=fmt)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def make_store(tmp_path) -> JobStore:
    return JobStore(str(tmp_path / "cache" / DB_NAME), str(tmp_path / "cache" / "jobs"), str(tmp_path / "tmp"))


def make_queue(store: JobStore | None = None, kind: JobKind | None = None) -> jobs.JobQueue:
    state = State()
    queue = jobs.JobQueue(lock=FIFOLock(), state_getter=lambda: state)
    if kind is not None:
        queue.register_kinds({"echo": kind})
    if store is not None:
        queue.attach_store(store)
    return queue


class EchoKind(JobKind):
    """A job kind whose request is ``{"value": ...}`` and whose result is that value and one picture."""

    def __init__(self) -> None:
        self.rebuilt: list[str] = []

    def rebuild(self, task_id, request):
        self.rebuilt.append(task_id)
        if request.get("broken"):
            raise ValueError("this request does not rebuild")
        return (lambda: request["value"]), {"request": request}

    def result_to_store(self, job):
        return StoredResult([picture_bytes()], {"value": job.result})

    def answer_from_store(self, stored):
        return {"value": stored.fields["value"], "pictures": [Image.open(io.BytesIO(p)).size for p in stored.images]}


def submit(queue: jobs.JobQueue, task_id: str, value, gate: threading.Event | None = None) -> jobs.Job:
    def run():
        if gate is not None:
            assert gate.wait(10)
        return value

    return queue.submit(run, task_id=task_id, kind="echo", keep_result=True, request={"value": value})


def wait_running(job: jobs.Job) -> None:
    """Wait (on the queue's own condition) until ``job`` has started."""
    deadline = time.monotonic() + 10
    while job.status != "running":
        assert time.monotonic() < deadline, f"{job.task_id} never started"
        time.sleep(0.01)


def rows(store: JobStore) -> dict[str, tuple[str, bool]]:
    return {job.task_id: (job.status, job.has_result) for job in store.jobs()}


def test_request_pictures_are_stored_as_files_and_come_back_as_sent(tmp_path):
    store = make_store(tmp_path)
    png, jpeg = picture_bytes(), picture_bytes("JPEG")
    request = {"prompt": "a" * 200, "init_images": [f"data:image/png;base64,{b64(png)}", b64(jpeg)],
               "mask": "https://example.com/mask.png", "seed": 3,
               "alwayson_scripts": {"cn": {"args": [{"image": b64(png), "weight": 0.5}]}}}
    key = store.add("task(a)", "img2img", "scripts_img2img", 1.0, request)
    with sqlite3.connect(store.db_path) as conn:
        text = conn.execute("SELECT request FROM jobs").fetchone()[0]
    assert b64(png)[:40] not in text and b64(jpeg)[:40] not in text and "a" * 200 in text
    assert sorted(os.listdir(os.path.join(store.files_dir, str(key)))) == ["request-0.png", "request-1.jpg",
                                                                          "request-2.png"]
    assert store.request(key) == request
    store.set_finished(key, "done", 2.0, 1.0)  # a finished job needs its request no more
    assert os.listdir(os.path.join(store.files_dir, str(key))) == []


def test_nothing_is_written_until_an_async_job_is_stored(tmp_path):
    store = make_store(tmp_path)
    queue = make_queue(store, EchoKind())
    assert queue.run(lambda: 1, task_id="sync") == 1  # synchronous jobs stay in memory
    assert not os.path.exists(store.db_path)
    submit(queue, "async", 2)
    assert queue.wait_idle(10) and rows(store) == {"async": ("done", True)}
    queue.shutdown(5)


@pytest.mark.parametrize("content", [b"this is not a database" * 100, "other schema"])
def test_a_corrupt_store_is_moved_aside_and_an_empty_one_starts(tmp_path, capsys, content):
    store = make_store(tmp_path)
    os.makedirs(os.path.join(store.files_dir, "1"))
    if content == "other schema":
        with sqlite3.connect(store.db_path) as conn:
            conn.execute("CREATE TABLE jobs (seq INTEGER PRIMARY KEY, task_id TEXT)")
            conn.execute("INSERT INTO jobs VALUES (1, 'task(x)')")
    else:
        with open(store.db_path, "wb") as f:
            f.write(content)
    queue = make_queue(store, EchoKind())
    assert "Job store" in capsys.readouterr().out
    aside = sorted(os.listdir(tmp_path / "tmp"), key=lambda name: not name.startswith(DB_NAME))
    assert aside[0].startswith(f"{DB_NAME}-") and aside[1].startswith("jobs-") and len(aside) == 2
    assert os.path.isdir(tmp_path / "tmp" / aside[1] / "1")  # its pictures went with it
    if content != "other schema":
        assert (tmp_path / "tmp" / aside[0]).read_bytes() == content
    assert queue.jobs() == [] and store.jobs() == []
    submit(queue, "after", 5)
    assert queue.wait_idle(10) and rows(store) == {"after": ("done", True)}
    queue.shutdown(5)


def test_waiting_async_jobs_are_capped_and_synchronous_ones_are_not(tmp_path):
    store = make_store(tmp_path)
    queue = make_queue(store, EchoKind())
    queue.max_waiting_durable = 2
    gate = threading.Event()
    wait_running(submit(queue, "running", 0, gate))  # a running job does not count
    submit(queue, "q1", 1)
    submit(queue, "q2", 2)
    with pytest.raises(jobs.QueueFullError, match="2 asynchronous jobs are waiting"):
        submit(queue, "q3", 3)
    assert queue.get("q3") is None and "q3" not in rows(store)
    in_memory = queue.submit(lambda: "sync", task_id="sync")
    gate.set()
    assert queue.wait_idle(10) and in_memory.take_result() == "sync"
    submit(queue, "q3", 3)  # room again
    assert queue.wait_idle(10) and rows(store)["q3"] == ("done", True)
    queue.shutdown(5)


def test_the_store_keeps_what_the_queue_keeps_and_deletes_the_rest_with_its_files(tmp_path):
    store = make_store(tmp_path)
    queue = make_queue(store, EchoKind())
    queue.history_limit, queue.kept_results_limit = 4, 2
    for i in range(6):
        submit(queue, f"t{i}", i)
        assert queue.wait_idle(10)
    assert rows(store) == {"t2": ("done", False), "t3": ("done", False), "t4": ("done", True), "t5": ("done", True)}
    keys = {job.task_id: job.key for job in store.jobs()}
    assert sorted(os.listdir(store.files_dir), key=int) == [str(keys[t]) for t in ("t2", "t3", "t4", "t5")]
    assert [os.listdir(os.path.join(store.files_dir, str(keys[t]))) for t in ("t3", "t4")] == [[], ["result-0.png"]]
    assert queue.forget("t5")
    assert "t5" not in rows(store) and not os.path.exists(os.path.join(store.files_dir, str(keys["t5"])))
    submit(queue, "t4", "again")  # a task id used again replaces its old row and files
    assert queue.wait_idle(10) and [j.task_id for j in store.jobs()].count("t4") == 1
    assert not os.path.exists(os.path.join(store.files_dir, str(keys["t4"])))
    restarted = make_queue(make_store(tmp_path), EchoKind())
    assert restarted.get("t4").meta.cached_answer["value"] == "again"
    queue.shutdown(5)


def test_a_restart_resumes_queued_jobs_in_order_fails_the_running_one_and_keeps_results(tmp_path, capsys):
    kind = EchoKind()
    first = make_queue(make_store(tmp_path), kind)
    for i in range(2):
        submit(first, f"done{i}", f"old-{i}")
    assert first.wait_idle(10)
    gate = threading.Event()
    wait_running(submit(first, "running", "never", gate))
    for i in range(3):
        submit(first, f"queued{i}", f"new-{i}")
    submit(first, "cancelled", "nope")
    assert first.cancel("cancelled").status == "cancelled"
    # the crash: nothing more is written, nothing more starts
    first.detach_store()
    first.shutdown(0)
    gate.set()
    assert first.shutdown(10) and [first.get(f"queued{i}").status for i in range(3)] == ["queued"] * 3

    kind = EchoKind()
    store = make_store(tmp_path)
    second = make_queue(store)
    assert "Job running was running when the server stopped" in capsys.readouterr().out
    interrupted = second.get("running")
    assert interrupted.status == "failed" and isinstance(interrupted.error, JobInterruptedError)
    assert str(interrupted.error) == INTERRUPTED == "interrupted: the server stopped while it ran"
    assert second.get("cancelled").status == "cancelled"
    # restored queued jobs wait for their kind: nothing knows how to run them yet
    assert [second.get(f"queued{i}").status for i in range(3)] == ["queued"] * 3 and second.wait_idle(0.2)
    assert second.get("done0").meta.cached_answer is None
    second.register_kinds({"echo": kind})
    assert second.wait_idle(10)
    assert kind.rebuilt == ["queued0", "queued1", "queued2"]
    resumed = [second.get(f"queued{i}") for i in range(3)]
    assert [job.status for job in resumed] == ["done"] * 3
    assert resumed[0].started <= resumed[1].started <= resumed[2].started
    assert [job.result for job in resumed] == ["new-0", "new-1", "new-2"]
    assert [second.get(f"done{i}").meta.cached_answer for i in range(2)] == [
        {"value": "old-0", "pictures": [(8, 8)]}, {"value": "old-1", "pictures": [(8, 8)]}]
    assert rows(store) == {"done0": ("done", True), "done1": ("done", True), "running": ("failed", False),
                                   "queued0": ("done", True), "queued1": ("done", True), "queued2": ("done", True),
                                   "cancelled": ("cancelled", False)}
    second.shutdown(5)


def test_a_stored_request_that_no_longer_rebuilds_fails_only_that_job(tmp_path):
    store = make_store(tmp_path)
    store.add("bad", "echo", "job", 1.0, {"value": 1, "broken": True})
    store.add("good", "echo", "job", 2.0, {"value": 2})
    queue = make_queue(store, EchoKind())
    queue.register_kinds({})  # the kind was known before the store came: jobs resume at the next registration
    assert queue.wait_idle(10)
    assert queue.get("bad").status == "failed" and "does not rebuild" in str(queue.get("bad").error)
    assert queue.get("good").status == "done" and queue.get("good").result == 2
    assert rows(store) == {"bad": ("failed", False), "good": ("done", True)}
    restarted = make_queue(make_store(tmp_path), EchoKind())
    assert restarted.get("bad").error.detail == "this request does not rebuild"
    queue.shutdown(5)


def test_a_failing_store_never_stops_the_queue(tmp_path, capsys, monkeypatch):
    store = make_store(tmp_path)
    queue = make_queue(store, EchoKind())

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "add", broken)
    job = submit(queue, "t", 7)
    assert queue.wait_idle(10) and job.status == "done" and job.result == 7
    assert "could not store t: disk I/O error" in capsys.readouterr().err
    queue.shutdown(5)
