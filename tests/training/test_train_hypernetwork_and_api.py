"""Hypernetwork training on a tiny SD1 model, and both trainings through /sdapi/v1/train/* as jobs of the queue."""
from __future__ import annotations

import os
import random
import threading
import time

import pytest
import torch

from modules.training.hypernetwork import short_file_hash, train_hypernetwork
from tests.training.conftest import eval_loss, strengthen_cross_attention

HN_ARGS = dict(hypernetwork_name="hn", learn_rate="0.005", batch_size=2, gradient_step=1,
               log_directory="textual_inversion", training_width=64, training_height=64,
               latent_sampling_method="deterministic", create_image_every=0, save_hypernetwork_every=0,
               template_filename="hypernetwork.txt")


def test_hypernetwork_training_lowers_the_loss_saves_a_loadable_file_and_resumes(training_app, capsys):
    shared, dataset = training_app
    from modules.hypernetworks.hypernetwork import load_hypernetwork
    from modules.training.dataset import PersonalizedBase

    model = shared.sd_model
    strengthen_cross_attention(model)
    random.seed(0)
    torch.manual_seed(0)
    prompt = "a picture of striped thing"
    data = PersonalizedBase(str(dataset), 64, 64, 1, "hn", model, [prompt], latent_sampling_method="deterministic")

    def loss_with(hypernetwork):
        registry = shared.hypernetworks_registry
        registry.loaded[:] = [hypernetwork] if hypernetwork is not None else []
        registry.apply_to(model)
        try:
            return eval_loss(model, data, lambda n: model.get_learned_conditioning([prompt] * n))
        finally:
            registry.loaded[:] = []
            registry.apply_to(model)

    untrained = load_hypernetwork("hn")
    before = loss_with(untrained)
    shared.opts.save_optimizer_state = True
    shared.state.begin("train")
    trained, filename = train_hypernetwork(data_root=str(dataset), steps=8, **HN_ARGS)
    assert trained.step == 8 and not shared.hypernetworks_registry.loaded, "unhooked after training"
    assert all(not p.requires_grad for pair in trained.layers.values() for m in pair for p in m.parameters())
    reloaded = load_hypernetwork("hn")
    assert reloaded.step == 8 and reloaded.name == "hn" and reloaded.dropout_structure == [0, 0.1, 0]
    assert reloaded.sd_checkpoint == model.sd_checkpoint_info.shorthash
    changed = reloaded.layers[32][0].linear[0].weight - untrained.layers[32][0].linear[0].weight
    assert changed.abs().max() > 1e-4
    after = loss_with(reloaded)
    assert after < before * 0.995, (before, after)

    optim = torch.load(f"{filename}.optim", weights_only=True)
    assert optim["optimizer_name"] == "AdamW" and optim["hash"] == short_file_hash(filename)
    capsys.readouterr()
    resumed, _ = train_hypernetwork(data_root=str(dataset), steps=9, **HN_ARGS)
    assert "Loaded existing optimizer from checkpoint" in capsys.readouterr().out
    assert resumed.step == 9 and load_hypernetwork("hn").step == 9

    # a hypernetwork made for other widths (the page's 768, 320...) would train nothing: refused, naming both
    from modules.networks.hypernetworks.creation import create_hypernetwork
    from modules.training.validation import TrainingError

    create_hypernetwork("wide", ["768", "320"], True)
    with pytest.raises(TrainingError, match="has no module this model uses: it has 320, 768, .* take 32, 64"):
        train_hypernetwork(data_root=str(dataset), steps=2, **{**HN_ARGS, "hypernetwork_name": "wide"})


@pytest.fixture
def api(training_app):
    from fastapi.testclient import TestClient

    from modules.app_server import create_app

    shared, dataset = training_app
    with TestClient(create_app(shared.cmd_opts, with_ui=False)) as client:
        yield shared, dataset, client


def _poll_while(thread, client, seen):
    while thread.is_alive():
        r = client.get("/sdapi/v1/progress?skip_current_image=true").json()
        assert "state" in r, r
        if r["state"]["job_count"] > 0:
            seen.append((r["progress"], r["state"]["job"], r["state"]["job_no"], r["textinfo"]))
        time.sleep(0.02)


def test_training_through_the_api_runs_as_a_job_with_progress_and_stops_on_interrupt(api):
    shared, dataset, client = api
    answer = {}
    body = dict(embedding_name="tok", learn_rate="0.01", batch_size=1, gradient_step=1, data_root=str(dataset),
                log_directory="textual_inversion", training_width=64, training_height=64, steps=20,
                create_image_every=0, save_embedding_every=10, template_filename="subject_filewords.txt")
    thread = threading.Thread(target=lambda: answer.update(r=client.post("/sdapi/v1/train/embedding", json=body)))
    seen: list = []
    thread.start()
    _poll_while(thread, client, seen)
    r = answer["r"]
    filename = os.path.join(shared.cmd_opts.embeddings_dir, "tok.pt")
    assert r.status_code == 200 and r.json() == {"info": f"train embedding complete: filename: {filename} error: None"}
    assert torch.load(filename, weights_only=True)["step"] == 20
    assert seen, "progress was reported while training ran"
    assert all(job == "train-embedding" for _, job, _, _ in seen)
    progresses = [p for p, _, _, _ in seen]
    assert progresses == sorted(progresses) and 0 < max(progresses) <= 1
    assert any("Loss:" in (text or "") for *_, text in seen)
    assert client.get("/sdapi/v1/progress").json()["state"]["job_count"] == 0, "the job ended"
    # resume: a request for 22 steps continues from the saved 20
    assert client.post("/sdapi/v1/train/embedding", json={**body, "steps": 22}).status_code == 200
    assert torch.load(filename, weights_only=True)["step"] == 22
    # a refused training answers with the reason, as A1111 does
    bad = client.post("/sdapi/v1/train/embedding", json={**body, "data_root": str(dataset / "missing")}).json()
    assert bad["info"].startswith("train embedding complete: filename:  error: Dataset directory doesn't exist")

    # a hypernetwork told to train 100000 steps stops at /sdapi/v1/interrupt and saves where it stopped
    body = dict(HN_ARGS, gradient_step=1, data_root=str(dataset), steps=100000)
    thread = threading.Thread(target=lambda: answer.update(r=client.post("/sdapi/v1/train/hypernetwork", json=body)))
    thread.start()
    deadline = time.time() + 120
    while time.time() < deadline and shared.state.job_no < 3:
        time.sleep(0.02)
    assert client.post("/sdapi/v1/interrupt").status_code == 200
    thread.join(120)
    filename = os.path.join(shared.cmd_opts.hypernetwork_dir, "hn.pt")
    assert answer["r"].json() == {"info": f"train hypernetwork complete: filename: {filename} error: None"}
    from modules.hypernetworks.hypernetwork import load_hypernetwork

    step = load_hypernetwork("hn").step
    assert 3 <= step < 50, step
    # resume: the next request continues from the saved step
    answer["r"] = client.post("/sdapi/v1/train/hypernetwork", json={**body, "steps": step + 2})
    assert answer["r"].json() == {"info": f"train hypernetwork complete: filename: {filename} error: None"}
    assert load_hypernetwork("hn").step == step + 2


@pytest.mark.parametrize("family", ["sd1-inpaint", "sd2-v"])
def test_inpainting_and_v_prediction_models_train_both(app, tmp_path, family):
    """Inpainting models get txt2img's masked-picture conditioning; v models learn the velocity."""
    from modules.networks.hypernetworks.creation import create_hypernetwork
    from modules.prompting.textual_inversion.creation import create_embedding_and_reload
    from modules.training.textual_inversion import train_embedding
    from tests.training.conftest import write_dataset

    shared = app(family)
    write_dataset(tmp_path / "pictures")
    create_embedding_and_reload("tok", 1, True, "cat")
    create_hypernetwork("hn", ["32"], True)
    shared.state.begin("train")
    common = dict(data_root=str(tmp_path / "pictures"), training_width=64, training_height=64, steps=2,
                  create_image_every=0, batch_size=2)
    embedding, _ = train_embedding(embedding_name="tok", save_embedding_every=0, **common)
    hypernetwork, _ = train_hypernetwork(hypernetwork_name="hn", save_hypernetwork_every=0, **common)
    assert embedding.step == 2 and hypernetwork.step == 2
    shared.state.end()
