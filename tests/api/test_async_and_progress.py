"""The asynchronous job API, progress routes, previews per task, and cancel/interrupt/skip by task."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from tests.api.conftest import SMALL, decode, encode, preserved_shared, reference, start_app, wait_status


def submit(client, **body):
    r = client.post("/sdapi/v1/async/txt2img", json=dict(SMALL, **body))
    assert r.status_code == 202, r.text
    return r.json()


def fail_on(prompt: str, monkeypatch) -> None:
    """Make generations with ``prompt`` fail inside the job (a processing error: the client's 422)."""
    from modules import processing
    from modules.processing.processing_base import GenerationError

    original = processing.process_images

    def process_images(p):
        if p.prompt == prompt:
            raise GenerationError("the sampler gave up on this prompt")
        return original(p)

    monkeypatch.setattr(processing, "process_images", process_images)


def data_uri_image(uri: str) -> Image.Image:
    head, _, data = uri.partition(",")
    assert head == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def pixels(b64: str) -> np.ndarray:
    return np.asarray(decode(b64).convert("RGB"))


def test_idle_progress_is_a1111s(api_client):
    client = api_client()
    assert client.get("/sdapi/v1/progress").json() == reference("progress")["body"]
    assert client.get("/internal/pending-tasks").json() == {"size": 0, "tasks": []}
    answer = client.post("/internal/progress", json={"id_task": "task(unknown)"}).json()
    assert answer == {"active": False, "queued": False, "completed": False, "progress": None, "eta": None,
                      "live_preview": None, "id_live_preview": -1, "textinfo": "Waiting..."}


def test_async_job_answers_what_the_sync_route_answers(tiny):
    client, _, _ = tiny
    accepted = submit(client, seed=42, steps=2)
    assert accepted["task_id"].startswith("task(txt2img-") and accepted["status"] in ("queued", "running")
    info = wait_status(client, accepted["task_id"], ("done",))
    assert info["progress"] == 1.0 and info["queue_position"] is None and info["result_available"] is True
    assert info["error"] is None and info["finished"] >= info["started"] >= info["created"]
    result = client.get(f"/sdapi/v1/async/jobs/{accepted['task_id']}/result")
    assert result.status_code == 200 and list(result.json()) == ["images", "parameters", "info"]
    sync = client.post("/sdapi/v1/txt2img", json=dict(SMALL, seed=42, steps=2)).json()
    assert np.array_equal(pixels(result.json()["images"][0]), pixels(sync["images"][0]))
    assert result.json()["parameters"] == sync["parameters"]
    assert client.get(f"/sdapi/v1/async/jobs/{accepted['task_id']}/result").json() == result.json()
    assert client.delete(f"/sdapi/v1/async/jobs/{accepted['task_id']}").json()["status"] == "deleted"
    assert client.get(f"/sdapi/v1/async/jobs/{accepted['task_id']}").status_code == 404
    assert client.get("/sdapi/v1/async/jobs/task(nope)/result").status_code == 404


def test_bad_async_requests_are_refused_before_queueing(tiny, monkeypatch):
    client, _, _ = tiny
    r = client.post("/sdapi/v1/async/txt2img", json=dict(SMALL, sampler_name="Nope"))
    assert r.status_code == 400 and "Nope" in r.json()["detail"]
    r = client.post("/sdapi/v1/async/img2img", json=dict(SMALL))
    assert r.status_code == 404 and r.json()["detail"] == "Init image not found"
    fail_on("doomed", monkeypatch)
    failed = submit(client, prompt="doomed")  # refused by processing, inside the job
    info = wait_status(client, failed["task_id"], ("failed",))
    assert info["error"]["status_code"] == 422 and "gave up" in info["error"]["detail"]
    r = client.get(f"/sdapi/v1/async/jobs/{failed['task_id']}/result")
    assert r.status_code == 422 and "gave up" in r.json()["detail"]


def test_a_full_queue_refuses_new_async_jobs_with_503(tiny, gate, monkeypatch):
    from modules.runtime.jobs import job_queue

    client, _, _ = tiny
    monkeypatch.setattr(job_queue(), "max_waiting_durable", 1)
    gate.pause_at = 1
    running = submit(client, steps=1, seed=1)["task_id"]
    gate.wait_paused()
    waiting = submit(client, steps=1, seed=2)["task_id"]
    r = client.post("/sdapi/v1/async/txt2img", json=dict(SMALL, steps=1, force_task_id="task(one-too-many)"))
    assert r.status_code == 503 and r.headers["retry-after"] == "30"
    assert "queue is full" in r.json()["detail"] and "1 asynchronous jobs are waiting" in r.json()["detail"]
    assert client.get("/sdapi/v1/async/jobs/task(one-too-many)").status_code == 404  # nothing kept of it
    gate.release()
    for task in (running, waiting):
        wait_status(client, task, ("done",))
    assert submit(client, steps=1, seed=3)["status"] in ("queued", "running")  # room again


def test_progress_and_previews_belong_to_their_task(tiny, gate):
    client, shared, _ = tiny
    client.post("/sdapi/v1/options", json={"show_progress_every_n_steps": 1})
    try:
        submit(client, steps=4, seed=1, force_task_id="task(first)")
        submit(client, steps=2, seed=2, force_task_id="task(second)")
        gate.wait_paused()
        r = client.post("/sdapi/v1/async/txt2img", json=dict(SMALL, force_task_id="task(second)"))
        assert r.status_code == 409 and r.json()["key"] == "force_task_id"

        running = client.get("/sdapi/v1/async/jobs/task(first)").json()
        assert running["status"] == "running" and running["queue_position"] == 0
        assert running["sampling_steps"] == 4 and 0 < running["progress"] < 1
        assert data_uri_image(running["live_preview"]).size == (8, 8)
        again = client.get(f"/sdapi/v1/async/jobs/task(first)?id_live_preview={running['id_live_preview']}").json()
        assert again["live_preview"] is None and again["id_live_preview"] == running["id_live_preview"]

        waiting = client.get("/sdapi/v1/async/jobs/task(second)").json()
        assert waiting["status"] == "queued" and waiting["queue_position"] == 1
        assert waiting["live_preview"] is None and waiting["id_live_preview"] == -1
        assert client.get("/sdapi/v1/async/jobs/task(second)/result").status_code == 409

        internal = client.post("/internal/progress", json={"id_task": "task(first)", "id_live_preview": -1}).json()
        assert internal["active"] and not internal["queued"] and internal["live_preview"].startswith("data:image/png")
        assert 0 < internal["progress"] < 1 and internal["eta"] is not None
        queued = client.post("/internal/progress", json={"id_task": "task(second)"}).json()
        assert queued["queued"] and queued["live_preview"] is None and queued["textinfo"] == "In queue: 1/1"
        assert client.get("/internal/pending-tasks").json() == {"size": 1, "tasks": ["task(second)"]}

        progress = client.get("/sdapi/v1/progress").json()
        state = progress["state"]
        assert (state["job"], state["job_count"], state["job_no"], state["sampling_steps"]) == ("scripts_txt2img", 1, 0, 4)
        expected = 0.01 + state["sampling_step"] / state["sampling_steps"]
        assert abs(progress["progress"] - expected) < 1e-9 and progress["eta_relative"] >= 0
        assert decode(progress["current_image"]).size == (8, 8)
        assert client.get("/sdapi/v1/progress?skip_current_image=true").json()["current_image"] is None
    finally:
        gate.release()
        client.post("/sdapi/v1/options", json={"show_progress_every_n_steps": 10})
    done = wait_status(client, "task(second)", ("done",))
    assert done["id_live_preview"] == -1  # never shown the first task's pictures
    assert wait_status(client, "task(first)", ("done",))["progress"] == 1.0


def test_cancelling_one_task_by_id_leaves_the_others_running(tiny, gate):
    client, _, _ = tiny
    first = submit(client, steps=6, seed=1)["task_id"]
    second = submit(client, steps=6, seed=2)["task_id"]
    third = submit(client, steps=6, seed=3)["task_id"]
    gate.wait_paused()
    assert client.post(f"/sdapi/v1/async/jobs/{third}/cancel").json() == {"task_id": third, "status": "cancelled"}
    assert client.post(f"/sdapi/v1/async/jobs/{first}/cancel").json() == {"task_id": first, "status": "cancelling"}
    gate.release()
    wait_status(client, first, ("cancelled",))
    partial = client.get(f"/sdapi/v1/async/jobs/{first}/result")
    assert partial.status_code == 200 and len(partial.json()["images"]) == 1
    assert wait_status(client, second, ("done",))["progress"] == 1.0
    whole = client.get(f"/sdapi/v1/async/jobs/{second}/result").json()
    alone = client.post("/sdapi/v1/txt2img", json=dict(SMALL, steps=6, seed=2)).json()
    assert np.array_equal(pixels(whole["images"][0]), pixels(alone["images"][0]))
    assert client.get(f"/sdapi/v1/async/jobs/{third}").json()["status"] == "cancelled"
    assert client.get(f"/sdapi/v1/async/jobs/{third}/result").status_code == 410


def test_interrupt_and_skip_act_on_the_running_job_only(tiny, gate):
    client, _, _ = tiny
    task = submit(client, steps=3, n_iter=2, seed=5)["task_id"]
    gate.wait_paused()
    assert client.post("/sdapi/v1/skip").json() is None
    assert client.get("/sdapi/v1/progress").json()["state"]["skipped"] is True
    gate.release()
    wait_status(client, task, ("done",))
    info = json.loads(client.get(f"/sdapi/v1/async/jobs/{task}/result").json()["info"])
    assert info["all_seeds"] == [5, 6] and len(info["infotexts"]) == 2  # the second batch still ran

    assert client.post("/sdapi/v1/interrupt").json() == {}  # nothing runs: the next job is not affected
    after = client.post("/sdapi/v1/txt2img", json=dict(SMALL, steps=2, seed=9)).json()
    assert len(after["images"]) == 1 and client.get("/sdapi/v1/progress").json()["state"]["interrupted"] is False


def test_async_jobs_survive_a_restart(tmp_path, monkeypatch, gate):
    """Acceptance: a restart with 3 queued async jobs runs them and keeps the finished results readable; the job
    that was running when the server died is failed with the reason."""
    from modules.runtime import jobs
    from modules.runtime.job_kinds import INTERRUPTED

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    fail_on("doomed", monkeypatch)
    gate.pause_at = 10 ** 9  # not before the crash
    monkeypatch.setattr(jobs, "_QUEUE", None)  # each runtime of this test gets its own queue, as a new process would
    init = encode(Image.new("RGB", (64, 64), (30, 140, 220)))
    with preserved_shared():
        with TestClient(start_app(data_dir, checkpoints=("tiny-a",))) as client:
            first_queue = jobs.job_queue()
            finished = [submit(client, steps=1, seed=seed)["task_id"] for seed in (11, 12)]
            failed = submit(client, steps=1, prompt="doomed")["task_id"]
            for task in finished:
                wait_status(client, task, ("done",))
            wait_status(client, failed, ("failed",))
            before = {task: client.get(f"/sdapi/v1/async/jobs/{task}/result") for task in finished + [failed]}
            assert [before[t].status_code for t in finished + [failed]] == [200, 200, 422]

            with gate.lock:
                gate.calls, gate.pause_at = 0, 1
            running = submit(client, steps=2, seed=13)["task_id"]
            gate.wait_paused()
            queued = [submit(client, steps=1, seed=21)["task_id"], submit(client, steps=1, seed=22)["task_id"]]
            r = client.post("/sdapi/v1/async/img2img", json=dict(SMALL, steps=1, seed=23, init_images=[init],
                                                                 denoising_strength=0.5))
            assert r.status_code == 202
            queued.append(r.json()["task_id"])
            # the crash: nothing more reaches the store, nothing more starts; the job in the sampler never ends there
            first_queue.detach_store()
            first_queue.shutdown(0)
            gate.release()
            assert first_queue.shutdown(60)

        monkeypatch.setattr(jobs, "_QUEUE", None)
        with TestClient(start_app(data_dir, checkpoints=("tiny-a",))) as client:
            second_queue = jobs.job_queue()
            try:
                info = client.get(f"/sdapi/v1/async/jobs/{running}?live_preview=false").json()
                assert info["status"] == "failed" and info["error"]["detail"] == INTERRUPTED
                assert INTERRUPTED == "interrupted: the server stopped while it ran"
                r = client.get(f"/sdapi/v1/async/jobs/{running}/result")
                assert r.status_code == 500 and r.json()["detail"] == INTERRUPTED

                for task in finished + [failed]:  # the same answers as before the restart
                    after = client.get(f"/sdapi/v1/async/jobs/{task}/result")
                    assert (after.status_code, after.json()) == (before[task].status_code, before[task].json())
                assert client.get(f"/sdapi/v1/async/jobs/{finished[0]}?live_preview=false").json()["result_available"]

                infos = [wait_status(client, task, ("done", "failed")) for task in queued]
                assert [i["status"] for i in infos] == ["done"] * 3, infos
                assert infos[0]["started"] <= infos[1]["started"] <= infos[2]["started"]  # in their original order
                results = [client.get(f"/sdapi/v1/async/jobs/{task}/result").json() for task in queued]
                assert [json.loads(r["info"])["seed"] for r in results] == [21, 22, 23]
                assert [decode(r["images"][0]).size for r in results] == [(64, 64)] * 3
                assert results[2]["parameters"]["init_images"] is None  # img2img, rebuilt with its stored picture
                assert "Denoising strength: 0.5" in json.loads(results[2]["info"])["infotexts"][0]
            finally:
                second_queue.shutdown(60)
                second_queue.detach_store()
