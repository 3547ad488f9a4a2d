"""A live uvicorn server driven by the real ``webuiapi`` client, and eight clients at once."""
from __future__ import annotations

import concurrent.futures
import json
import threading

import numpy as np
import pytest
from PIL import Image

from tests.api.conftest import SMALL, decode, live_server, preserved_shared, reference, start_app

webuiapi = pytest.importorskip("webuiapi")
requests = pytest.importorskip("requests")

STYLES = 'name,prompt,negative_prompt\nfancy,"{prompt}, ornate",ugly\n'


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """(base URL, modules.shared) of a server with two tiny checkpoints and a style."""
    data_dir = tmp_path_factory.mktemp("data")
    (data_dir / "styles.csv").write_text(STYLES)
    with preserved_shared() as shared:
        app = start_app(data_dir, checkpoints=("tiny-a", "tiny-b"))
        with live_server(app) as url:
            yield url, shared


def client_for(url: str):
    host, port = url.rsplit("//", 1)[1].split(":")
    return webuiapi.WebUIApi(host=host, port=int(port), sampler="Euler a", steps=3)


def test_webuiapi_client_lists_generates_and_switches_models(live):
    url, shared = live
    api = client_for(url)
    assert api.get_samplers() == reference("samplers")["body"]
    assert api.get_schedulers() == reference("schedulers")["body"]
    assert api.get_prompt_styles() == [{"name": "fancy", "prompt": "{prompt}, ornate", "negative_prompt": "ugly"}]
    assert api.get_embeddings() == {"loaded": {}, "skipped": {}}
    assert api.get_progress()["progress"] == 0 and api.get_progress()["state"]["job_count"] == 0

    result = api.txt2img(prompt="a cat", seed=1, width=64, height=64, styles=["fancy"])
    assert result.image.size == (64, 64) and result.info["all_seeds"] == [1]
    assert result.info["prompt"] == "a cat, ornate" and result.info["negative_prompt"] == "ugly"
    assert result.parameters["prompt"] == "a cat" and result.info["sd_model_name"] == "tiny-a"
    assert api.png_info(result.image).info == result.info["infotexts"][0]

    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    edited = api.img2img(images=[result.image], mask_image=mask, inpainting_fill=1, inpaint_full_res=False, mask_blur=0,
                         width=64, height=64, denoising_strength=0.8, seed=2, prompt="a dog")
    before = np.asarray(result.image.convert("RGB")).astype(int)
    after = np.asarray(edited.image.convert("RGB")).astype(int)
    assert np.array_equal(after[:, 32:], before[:, 32:]) and not np.array_equal(after[:, :32], before[:, :32])
    assert edited.info["denoising_strength"] == 0.8 and edited.parameters["init_images"] is None

    titles = {t.split(".")[0]: t for t in api.util_get_model_names()}
    assert set(titles) == {"tiny-a", "tiny-b"} and api.util_get_current_model() == titles["tiny-a"]
    api.util_set_model(titles["tiny-b"], find_closest=False)
    try:
        assert api.util_get_current_model().startswith("tiny-b.safetensors")
        other = api.txt2img(prompt="a cat", seed=1, width=64, height=64, styles=["fancy"])
        assert other.info["sd_model_name"] == "tiny-b"
        assert not np.array_equal(np.asarray(other.image), np.asarray(result.image))
    finally:
        api.util_set_model(titles["tiny-a"], find_closest=False)
    assert shared.sd_model.sd_checkpoint_info.name_for_extra == "tiny-a"


def test_webuiapi_progress_and_interrupt_during_a_job(live, gate):
    url, _ = live
    api = client_for(url)
    done = {}
    worker = threading.Thread(target=lambda: done.setdefault("r", api.txt2img(prompt="slow", seed=3, width=64, height=64,
                                                                              steps=8)))
    worker.start()
    gate.wait_paused()
    progress = api.get_progress()
    assert progress["state"]["job"] == "scripts_txt2img" and progress["state"]["sampling_steps"] == 8
    assert 0 < progress["progress"] < 1 and progress["eta_relative"] > 0
    assert api.interrupt() == {}
    assert api.get_progress()["state"]["interrupted"] is True
    gate.release()
    worker.join(60)
    assert done["r"].image.size == (64, 64)  # the interrupted job still answers what it made
    full = api.txt2img(prompt="slow", seed=3, width=64, height=64, steps=8)
    assert not np.array_equal(np.asarray(full.image), np.asarray(done["r"].image))
    assert api.get_progress()["state"]["interrupted"] is False


def test_eight_concurrent_clients_each_get_their_seeds_image(live):
    url, shared = live
    from modules.processing import StableDiffusionProcessingTxt2Img, process_images

    seeds = list(range(100, 108))
    alone = {}
    for seed in seeds:
        p = StableDiffusionProcessingTxt2Img(**dict(SMALL, seed=seed, do_not_save_samples=True, do_not_save_grid=True))
        alone[seed] = np.asarray(process_images(p).images[0])

    barrier = threading.Barrier(len(seeds))

    def one(seed: int) -> tuple[int, dict]:
        session = requests.Session()
        barrier.wait(30)
        r = session.post(f"{url}/sdapi/v1/txt2img", json=dict(SMALL, seed=seed), timeout=120)
        assert r.status_code == 200, r.text
        return seed, r.json()

    with concurrent.futures.ThreadPoolExecutor(len(seeds)) as pool:
        answers = list(pool.map(one, seeds))
    assert sorted(seed for seed, _ in answers) == seeds
    for seed, body in answers:
        assert json.loads(body["info"])["all_seeds"] == [seed]
        assert np.array_equal(np.asarray(decode(body["images"][0]).convert("RGB")), alone[seed]), seed
    assert requests.get(f"{url}/internal/pending-tasks", timeout=10).json() == {"size": 0, "tasks": []}
