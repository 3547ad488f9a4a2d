"""The asynchronous job API, progress routes, previews per task, and cancel/interrupt/skip by task."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
from PIL import Image

from tests.api.conftest import SMALL, decode, reference, wait_status


def submit(client, **body):
    r = client.post("/sdapi/v1/async/txt2img", json=dict(SMALL, **body))
    assert r.status_code == 202, r.text
    return r.json()


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


def test_bad_async_requests_are_refused_before_queueing(tiny):
    client, _, _ = tiny
    r = client.post("/sdapi/v1/async/txt2img", json=dict(SMALL, sampler_name="Nope"))
    assert r.status_code == 400 and "Nope" in r.json()["detail"]
    r = client.post("/sdapi/v1/async/img2img", json=dict(SMALL))
    assert r.status_code == 404 and r.json()["detail"] == "Init image not found"
    failed = submit(client, steps=0)  # refused by processing, inside the job
    info = wait_status(client, failed["task_id"], ("failed",))
    assert info["error"]["status_code"] == 422 and "steps" in info["error"]["detail"]
    r = client.get(f"/sdapi/v1/async/jobs/{failed['task_id']}/result")
    assert r.status_code == 422 and "steps" in r.json()["detail"]


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
