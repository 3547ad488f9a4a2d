"""Scale-out on Ray (issue 19): a local cluster of 2 CPU worker actors on tiny checkpoints.

One cluster for the module (starting Ray and two headless runtimes is the cost): the orchestrator runs in this
process with the executor installed; the one-machine reference runs in this same process with the executor
taken off, so both sides use the same code, settings and checkpoint file.
"""
from __future__ import annotations

import copy
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the Ray tests need requirements-ray.txt")
# the acceptance runs: the module takes ~65 s on an idle 2-core machine (cluster start ~25 s), in the default run
pytestmark = pytest.mark.slow

FIELDS = dict(prompt="a photo of a cat", negative_prompt="blurry", steps=2, width=64, height=64,
              sampler_name="Euler", cfg_scale=7.0)


EXTENSION_SCRIPT = """
from PIL import ImageOps

from modules import scripts


class Script(scripts.Script):
    def title(self):
        return "Ray test invert"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def process(self, p, *args):
        if "INVERT" in p.prompt:
            p.extra_generation_params["Ray test"] = "inverted"

    def postprocess_image(self, p, pp, *args):
        if "INVERT" in p.prompt:
            pp.image = ImageOps.invert(pp.image)
"""
"""A user extension in the orchestrator's data dir: an always-on script whose hooks must run on the workers."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from modules.core.services import current_services, install_services
    from modules.distributed import start, stop
    from modules.models.tiny_factory import make_tiny_checkpoint
    from modules.runtime.bootstrap import initialize

    data_dir = tmp_path_factory.mktemp("ray-data")
    make_tiny_checkpoint("sd1", data_dir / "models" / "Stable-diffusion", name="tiny")
    extension = data_dir / "extensions" / "ray-test-extension" / "scripts"
    extension.mkdir(parents=True)
    (extension / "ray_test_invert.py").write_text(EXTENSION_SCRIPT)
    before = current_services()
    result = initialize(["--data-dir", str(data_dir), "--ray", "auto", "--ray-workers", "2", "--nowebui"])
    temp_dir = tempfile.mkdtemp(prefix="rayt", dir="/tmp")  # short: Ray's socket paths live under it
    orchestrator = start(result.services, temp_dir=temp_dir)
    try:
        yield result.services, orchestrator, data_dir
    finally:
        stop()
        shutil.rmtree(temp_dir, ignore_errors=True)
        if before is not None:
            install_services(before)


def txt2img(services, outdir, **fields):
    from modules.processing.txt2img import StableDiffusionProcessingTxt2Img

    p = StableDiffusionProcessingTxt2Img(services=services, outpath_samples=str(outdir), outpath_grids=str(outdir),
                                         **{**FIELDS, **fields})
    return p


def run(p):
    from modules.processing.pipeline import process_images

    try:
        return process_images(p)
    finally:
        p.close()


def run_local(p):
    """The one-machine run: the same process_images with the Ray executor off."""
    from modules.processing.executors import install_executor

    previous = install_executor(None)
    try:
        return run(p)
    finally:
        install_executor(previous)


def files(folder: Path) -> dict[str, str]:
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file()}


def test_default_start_does_not_import_ray():
    # what a start without --ray imports of this feature: the flags, the API with its /workers route, the hook
    code = ("import sys; import modules.core.cmd_args, modules.api.api, modules.distributed, "
            "modules.processing.executors; "
            "print('RAY' if 'ray' in sys.modules else 'NO-RAY')")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                         text=True, timeout=300)
    assert out.stdout.strip().endswith("NO-RAY"), out.stdout + out.stderr


def test_batch_count_4_on_2_workers_is_byte_identical_to_one_process(cluster, tmp_path):
    services, orchestrator, _ = cluster
    assert orchestrator.free_workers() == 2
    local = run_local(txt2img(services, tmp_path / "local", seed=1234, subseed=5, n_iter=4))
    remote = run(txt2img(services, tmp_path / "ray", seed=1234, subseed=5, n_iter=4))
    assert sorted(set(remote.ray_workers)) == ["worker-1", "worker-2"]  # the batch count was split
    assert remote.infotexts == local.infotexts
    assert remote.all_seeds == local.all_seeds == [1234, 1235, 1236, 1237]
    assert remote.js() == local.js()
    assert [im.tobytes() for im in remote.images] == [im.tobytes() for im in local.images]
    saved = files(tmp_path / "ray")
    assert saved == files(tmp_path / "local") and len(saved) == 5  # 4 pictures and the grid, same names and bytes


def test_random_seed_and_subseeds_follow_the_one_machine_order(cluster, tmp_path):
    services, _, _ = cluster
    remote = run(txt2img(services, tmp_path / "ray", seed=-1, subseed=77, subseed_strength=0.5, n_iter=3,
                         batch_size=2))
    local = run_local(txt2img(services, tmp_path / "local", seed=remote.seed, subseed=77, subseed_strength=0.5,
                              n_iter=3, batch_size=2))
    assert remote.all_subseeds == list(range(77, 83))
    assert remote.infotexts == local.infotexts
    assert [im.tobytes() for im in remote.images] == [im.tobytes() for im in local.images]


def test_hires_fix_split_over_the_workers_equals_one_process(cluster, tmp_path):
    services, _, _ = cluster
    fields = dict(seed=31, subseed=4, n_iter=2, enable_hr=True, hr_scale=2.0, hr_upscaler="Latent",
                  denoising_strength=0.5, hr_second_pass_steps=2)
    local = run_local(txt2img(services, tmp_path / "local", **fields))
    remote = run(txt2img(services, tmp_path / "ray", **fields))
    assert len(remote.ray_workers) == 2 and remote.images[1].size == (128, 128)
    assert remote.infotexts == local.infotexts
    assert [im.tobytes() for im in remote.images] == [im.tobytes() for im in local.images]
    assert files(tmp_path / "ray") == files(tmp_path / "local")


def test_a_hypertile_job_runs_whole_on_one_worker_and_equals_one_process(cluster, tmp_path):
    """Hypertile's tile counts run on from batch to batch: the job is one chunk, with the one-machine pictures."""
    services, _, _ = cluster
    overrides = {"hypertile_enable_unet": True, "hypertile_max_tile_unet": 32, "hypertile_swap_size_unet": 3}
    fields = dict(seed=52, subseed=1, n_iter=3, override_settings=overrides)

    def job(outdir):
        p = txt2img(services, outdir, **fields)
        p.scripts = services.scripts_txt2img  # the always-on Hypertile script of the built-in extension
        p.script_args = [None] * max([s.args_to or 0 for s in p.scripts.alwayson_scripts] + [0])
        return p

    local, remote = run_local(job(tmp_path / "local")), run(job(tmp_path / "ray"))
    assert len(set(remote.ray_workers)) == 1
    assert "Hypertile U-Net: True" in remote.infotexts[0]
    assert remote.infotexts == local.infotexts
    assert [im.tobytes() for im in remote.images] == [im.tobytes() for im in local.images]


def test_an_extras_batch_runs_on_the_workers_and_saves_the_local_files(cluster, tmp_path):
    from modules.processing.executors import install_executor
    from modules.processing.extras_run import run_postprocessing
    from tests.postprocess.test_extras import lanczos, source

    _, orchestrator, _ = cluster
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        source(shade=60 * i).save(src / f"p{i}.png")
    previous = install_executor(None)
    try:
        local, _, _ = run_postprocessing(2, None, None, str(src), str(tmp_path / "local"), True, lanczos(2))
    finally:
        install_executor(previous)
    done_before = sum(worker["jobs_done"] for worker in orchestrator.workers())
    remote, _, _ = run_postprocessing(2, None, None, str(src), str(tmp_path / "ray"), True, lanczos(2))
    assert sum(worker["jobs_done"] for worker in orchestrator.workers()) - done_before == 3
    assert [im.tobytes() for im in remote] == [im.tobytes() for im in local]
    assert files(tmp_path / "ray") == files(tmp_path / "local")


def test_a_lora_job_carries_its_file_by_hash_and_equals_one_process(cluster, tmp_path):
    """The workers here run on the orchestrator's node and read its folders: the job names its file by hash, nothing
    goes into the object store, each worker finds the same content in place and applies it
    (tests/distributed/test_file_shipping.py covers a worker on another node that lacks it)."""
    from modules.networks.lora.layer_index import build_layer_index
    from modules.processing.executors import current_executor
    from tests.networks.lora_files import kohya_names, lora_for_layers, write

    services, _, data_dir = cluster
    index = build_layer_index(services.sd_model)
    write(str(data_dir / "models" / "Lora" / "shipped" / "raylora.safetensors"),
          lora_for_layers(index, kohya_names(index)[:6], rank=4, alpha=4.0, scale=0.5))
    sys.modules["networks"].list_available_networks()
    fields = dict(prompt="a photo of a cat <lora:raylora:1>", seed=77, subseed=3, n_iter=2)
    plain = run_local(txt2img(services, tmp_path / "plain", **{**fields, "prompt": "a photo of a cat"}))
    local = run_local(txt2img(services, tmp_path / "local", **fields))
    remote = run(txt2img(services, tmp_path / "ray", **fields))
    assert len(remote.ray_workers) == 2
    assert current_executor().files._refs == {}
    assert remote.infotexts == local.infotexts and "Lora hashes" in local.infotexts[0]
    assert [im.tobytes() for im in remote.images] == [im.tobytes() for im in local.images]
    assert [im.tobytes() for im in local.images] != [im.tobytes() for im in plain.images]


def test_extensions_always_on_hooks_run_on_the_workers(cluster, tmp_path):
    from modules.processing.txt2img import StableDiffusionProcessingTxt2Img

    services, _, _ = cluster

    def job(outdir):
        p = StableDiffusionProcessingTxt2Img(services=services, outpath_samples=str(outdir), outpath_grids=str(outdir),
                                             **{**FIELDS, "prompt": "INVERT a cat"}, seed=8, subseed=8, n_iter=2)
        p.scripts = services.scripts_txt2img
        p.script_args = [None] * max([s.args_to or 0 for s in p.scripts.alwayson_scripts] + [0])
        return p

    local, remote = run_local(job(tmp_path / "local")), run(job(tmp_path / "ray"))
    assert len(remote.ray_workers) == 2
    assert "Ray test: inverted" in remote.infotexts[1] and remote.infotexts == local.infotexts
    assert [im.tobytes() for im in remote.images] == [im.tobytes() for im in local.images]


def test_img2img_with_a_mask_split_over_the_workers_equals_one_process(cluster, tmp_path):
    from PIL import Image

    from modules.processing.img2img import StableDiffusionProcessingImg2Img

    services, _, _ = cluster
    init = Image.new("RGB", (64, 64), (200, 120, 40))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))

    def job(outdir):
        return StableDiffusionProcessingImg2Img(services=services, outpath_samples=str(outdir),
                                                outpath_grids=str(outdir), init_images=[init.copy()], mask=mask.copy(),
                                                denoising_strength=0.6, seed=55, subseed=3, n_iter=2,
                                                **FIELDS)

    local, remote = run_local(job(tmp_path / "local")), run(job(tmp_path / "ray"))
    assert len(remote.ray_workers) == 2
    assert len(remote.images) == len(local.images)
    assert [i for i, (a, b) in enumerate(zip(remote.images, local.images)) if a.tobytes() != b.tobytes()] == []
    assert remote.infotexts == local.infotexts
    assert [im.tobytes() for im in remote.images] == [im.tobytes() for im in local.images]
    assert files(tmp_path / "ray") == files(tmp_path / "local")


def test_a_workers_failure_reaches_the_caller_with_its_own_class(cluster, tmp_path):
    from modules.processing.processing_base import GenerationError

    services, orchestrator, _ = cluster
    with pytest.raises(GenerationError, match="multiples of 8"):
        run(txt2img(services, tmp_path, seed=1, width=60))
    assert all(w["status"] == "ok" and w["current_task"] is None for w in orchestrator.workers())


def test_eight_concurrent_api_clients_get_their_own_seeds(cluster, tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from modules.api.api import Api

    services, _, _ = cluster
    app = FastAPI()
    Api(app)
    client = TestClient(app)
    answers: dict[int, dict] = {}

    def post(seed: int) -> None:
        body = {**FIELDS, "seed": seed, "n_iter": 1, "send_images": False}
        answers[seed] = client.post("/sdapi/v1/txt2img", json=body).json()

    threads = [threading.Thread(target=post, args=(500 + i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert sorted(answers) == list(range(500, 508))
    import json

    for seed, answer in answers.items():
        assert json.loads(answer["info"])["all_seeds"] == [seed], answer
    # an async job: its status names the workers running it while it runs
    task = client.post("/sdapi/v1/async/txt2img", json={**FIELDS, "seed": 9, "n_iter": 2, "steps": 30}).json()
    named: list = []
    deadline = time.time() + 120
    while time.time() < deadline:
        info = client.get(f"/sdapi/v1/async/jobs/{task['task_id']}?live_preview=false").json()
        if info["status"] == "running" and info.get("workers"):
            named = info["workers"]
        if info["status"] in ("done", "failed", "cancelled"):
            break
        time.sleep(0.05)
    assert info["status"] == "done" and sorted(named) in (["worker-1"], ["worker-2"], ["worker-1", "worker-2"])
    workers = client.get("/sdapi/v1/workers").json()
    assert [w["name"] for w in workers] == ["worker-1", "worker-2"]
    assert all(w["status"] == "ok" and w["devices"] == ["cpu"] and w["model"].startswith("tiny") for w in workers)
    assert sum(w["jobs_done"] for w in workers) >= 8


def follow_jobs(client, tasks: list[str], timeout: float = 180) -> tuple[list[dict], list[list[str]]]:
    """Poll the async jobs ``tasks`` until all ended: (their last infos, for each the workers seen while every one of
    them was running at the same time)."""
    together: list[list[str]] = [[] for _ in tasks]
    deadline = time.time() + timeout
    while time.time() < deadline:
        infos = [client.get(f"/sdapi/v1/async/jobs/{task}?live_preview=false").json() for task in tasks]
        if all(info["status"] == "running" for info in infos):
            for seen, info in zip(together, infos):
                seen.extend(w for w in info.get("workers") or [] if w not in seen)
        if all(info["status"] in ("done", "failed", "cancelled") for info in infos):
            return infos, together
        time.sleep(0.05)
    raise AssertionError(f"jobs still running after {timeout} s: {infos}")


def test_two_clients_jobs_run_side_by_side_each_on_its_own_worker(cluster, tmp_path):
    """One queue slot per worker: two one-picture jobs run at once, each on a worker of its own with its own
    progress, and answer the one-machine pictures; cancelling one leaves the other running to its end."""
    import base64
    import io
    import json

    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from PIL import Image

    from modules.api.api import Api
    from modules.runtime.jobs import job_queue

    services, _, _ = cluster
    assert job_queue().slots == 2
    client = TestClient(Api(FastAPI()).app)
    body = {**FIELDS, "steps": 24, "n_iter": 1}
    tasks = [client.post("/sdapi/v1/async/txt2img", json={**body, "seed": seed, "subseed": seed}).json()["task_id"]
             for seed in (11, 12)]
    infos, together = follow_jobs(client, tasks)
    assert [info["status"] for info in infos] == ["done", "done"]
    assert all(len(seen) == 1 for seen in together) and set(together[0]) != set(together[1]), together
    for task, seed in zip(tasks, (11, 12)):
        answer = client.get(f"/sdapi/v1/async/jobs/{task}/result").json()
        assert json.loads(answer["info"])["all_seeds"] == [seed]
        local = run_local(txt2img(services, tmp_path / f"local-{seed}", seed=seed, subseed=seed, steps=24))
        picture = Image.open(io.BytesIO(base64.b64decode(answer["images"][0])))
        assert picture.tobytes() == local.images[0].tobytes()

    def info(task: str) -> dict:
        return client.get(f"/sdapi/v1/async/jobs/{task}?live_preview=false").json()

    def wait_for(condition, what: str) -> None:
        deadline = time.time() + 120
        while not condition():
            assert time.time() < deadline, what
            time.sleep(0.05)

    long = {**body, "steps": 500}
    tasks = [client.post("/sdapi/v1/async/txt2img", json={**long, "seed": seed}).json()["task_id"] for seed in (21, 22)]
    wait_for(lambda: all(info(task)["sampling_step"] for task in tasks), "the two jobs did not both start sampling")
    assert client.post(f"/sdapi/v1/async/jobs/{tasks[0]}/cancel").json()["status"] == "cancelling"
    wait_for(lambda: info(tasks[0])["status"] == "cancelled", "the cancelled job did not end")
    step = info(tasks[1])["sampling_step"]
    wait_for(lambda: (info(tasks[1])["sampling_step"] or 0) > step, "the other job stopped too")
    assert info(tasks[1])["status"] == "running"
    client.post(f"/sdapi/v1/async/jobs/{tasks[1]}/cancel")
    infos, _ = follow_jobs(client, tasks)
    assert [info["status"] for info in infos] == ["cancelled", "cancelled"]


def test_xyz_plot_grid_equals_the_one_machine_grid(cluster, tmp_path):
    from modules.builtin_scripts.xyz_plot import draw_xyz_grid

    services, _, _ = cluster

    ran_on: set = set()

    def grid(runner, outdir):
        p = txt2img(services, outdir, seed=42, do_not_save_grid=True, do_not_save_samples=True)

        def cell(x, y, z, ix, iy, iz):
            pc = copy.copy(p)
            pc.steps, pc.cfg_scale = x, y
            pc.override_settings = dict(p.override_settings)
            res = runner(pc)
            ran_on.update(getattr(res, "ray_workers", []))
            return res

        return draw_xyz_grid(p, [1, 2], [5.0, 9.0], [0], ["1", "2"], ["5", "9"], [""], cell, True, False, False,
                             ["x", "y", "z"], 0)

    from modules.processing.executors import install_executor

    previous = install_executor(None)  # the whole plot in one process: cells one at a time
    try:
        local = grid(run, tmp_path / "l")
    finally:
        install_executor(previous)
    remote = grid(run, tmp_path / "r")  # the cells fan out over both workers
    assert ran_on == {"worker-1", "worker-2"}
    assert [im.tobytes() for im in remote.images] == [im.tobytes() for im in local.images]
    assert remote.infotexts == local.infotexts


def test_an_unknown_checkpoint_fails_as_in_one_process(cluster, tmp_path):
    from modules.processing.processing_base import GenerationError

    services, _, _ = cluster
    p = txt2img(services, tmp_path, seed=1, override_settings={"sd_model_checkpoint": "nowhere.safetensors"})
    with pytest.raises(GenerationError, match="nowhere"):
        run(p)


def test_a_checkpoint_no_worker_node_has_is_named_with_the_node_and_marked(cluster, tmp_path):
    from modules.distributed.orchestrator import NoWorkerError
    from modules.models.checkpoints.info import CheckpointInfo
    from modules.models.tiny_factory import make_tiny_checkpoint

    services, orchestrator, _ = cluster
    make_tiny_checkpoint("sd1", tmp_path / "only-here", name="lonely")  # a folder only this process lists
    info = CheckpointInfo(str(tmp_path / "only-here" / "lonely.safetensors"), services.checkpoints)
    services.checkpoints.register(info)
    p = txt2img(services, tmp_path, seed=1, override_settings={"sd_model_checkpoint": info.title})
    with pytest.raises(NoWorkerError, match=r"lonely.*is not on node .*Stable-diffusion"):
        run(p)
    workers = orchestrator.workers()
    assert all(info.title in w["missing_checkpoints"] and w["status"] == "ok" for w in workers)
    assert run(txt2img(services, tmp_path / "after", seed=2)).images  # the workers still run other jobs


def test_interrupt_reaches_the_workers_of_the_job(cluster, tmp_path):
    services, orchestrator, _ = cluster
    done: dict = {}
    thread = threading.Thread(target=lambda: done.update(result=run(txt2img(services, tmp_path, seed=3, n_iter=4,
                                                                             steps=40))))
    thread.start()
    deadline = time.time() + 120
    while sum(s.task is not None for s in orchestrator.slots) < 2 and time.time() < deadline:
        time.sleep(0.05)
    try:
        services.state.interrupt()
        thread.join(120)
    finally:
        services.state.interrupted = False
    assert not thread.is_alive()
    pictures = [im for im in done["result"].images if im.size == (64, 64)]
    assert 1 <= len(pictures) < 4  # each worker stopped in its first iteration and started no other
    # interrupted pictures are not saved (save_incomplete_images off); the grid is, as in one process
    assert [f.name for f in tmp_path.rglob("*.png")] == ["grid-0000.png"]


def test_a_second_node_joins_and_runs_jobs(cluster, tmp_path):
    services, orchestrator, _ = cluster
    address = ray.get_runtime_context().gcs_address
    node_dir = tempfile.mkdtemp(prefix="rayn", dir="/tmp")  # its own temp dir, short (socket paths)
    node = subprocess.Popen([sys.executable, "-m", "ray.scripts.scripts", "start", "--address", address,
                             "--num-cpus", "1", "--temp-dir", node_dir, "--block"],
                            stdout=open(tmp_path / "node2.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while len([n for n in ray.nodes() if n["Alive"]]) < 2 and time.time() < deadline:
            time.sleep(0.5)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2, (tmp_path / "node2.log").read_text()[-3000:]
        orchestrator.refresh(force=True)
        assert len(orchestrator.slots) == 3
        assert orchestrator.wait_ready(timeout=180) == 3
        new = orchestrator.slots[-1]
        assert new.node_id != orchestrator.slots[0].node_id
        remote = run(txt2img(services, tmp_path / "ray", seed=7, n_iter=3))
        assert new.name in remote.ray_workers
        local = run_local(txt2img(services, tmp_path / "local", seed=7, n_iter=3))
        assert [im.tobytes() for im in remote.images] == [im.tobytes() for im in local.images]
    finally:
        for slot in [s for s in orchestrator.slots if s.node_id != orchestrator.slots[0].node_id]:
            ray.kill(slot.actor, no_restart=True)
            orchestrator.slots.remove(slot)
        os.killpg(node.pid, signal.SIGTERM)
        try:
            node.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)
        shutil.rmtree(node_dir, ignore_errors=True)


def test_killed_worker_its_chunk_reruns_elsewhere_and_each_picture_is_saved_once(cluster, tmp_path):
    services, orchestrator, _ = cluster
    fields = dict(seed=900, n_iter=4, steps=24)
    local = run_local(txt2img(services, tmp_path / "local", **fields))
    done: dict = {}

    def job() -> None:
        try:
            done["result"] = run(txt2img(services, tmp_path / "ray", **fields))
        except BaseException as e:  # handed to the test below
            done["error"] = e

    thread = threading.Thread(target=job)
    thread.start()
    victim = None
    seen_progress: list = []

    def watch() -> None:  # the job's state names the workers running it (what /sdapi/v1/progress shows)
        while thread.is_alive():
            if (services.state.textinfo or "").startswith("Ray workers:"):
                seen_progress.append(services.state.textinfo)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    deadline = time.time() + 120
    while victim is None and time.time() < deadline:
        busy = [s for s in orchestrator.slots if s.task is not None]
        if len(busy) == 2:
            victim = busy[1]
        time.sleep(0.05)
    assert victim is not None, "both workers never ran the job together"
    time.sleep(0.3)
    os.kill(victim.info["pid"], signal.SIGKILL)
    thread.join(300)
    watcher.join(10)
    assert "error" not in done, done.get("error")
    remote = done["result"]
    assert remote.infotexts == local.infotexts
    assert [im.tobytes() for im in remote.images] == [im.tobytes() for im in local.images]
    assert files(tmp_path / "ray") == files(tmp_path / "local")  # exactly one copy of each picture
    assert victim.status in ("restarting", "ok")  # Ray restarts the actor; the orchestrator takes it back when it answers
    assert seen_progress, "the orchestrator's state never named the workers running the job"
