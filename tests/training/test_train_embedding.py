"""Textual-inversion training on a tiny SD1 model: the loss goes down, files as A1111 writes them, resume, interrupt."""
from __future__ import annotations

import csv
import glob
import importlib.util
import json
import os
import random

import pytest
import torch

from modules.training.dataset import PersonalizedBase
from modules.training.textual_inversion import embedding_checksum, train_embedding
from modules.training.validation import TrainingError
from tests.training.conftest import eval_loss, strengthen_cross_attention

PROMPT = "a picture of a tok"


def _train(dataset, steps, **overrides):
    kwargs = dict(embedding_name="tok", learn_rate="0.05", batch_size=2, gradient_step=1, data_root=str(dataset),
                  log_directory="textual_inversion", training_width=64, training_height=64, steps=steps,
                  latent_sampling_method="deterministic", create_image_every=0, save_embedding_every=5,
                  template_filename="subject.txt")
    kwargs.update(overrides)
    return train_embedding(**kwargs)


def _log_dir(shared, name="tok"):
    return glob.glob(os.path.join(shared.cmd_opts.data_dir, "textual_inversion", "*", name))[0]


def test_training_lowers_the_loss_and_the_saved_embedding_changes_the_conditioning(training_app):
    shared, dataset = training_app
    model = shared.sd_model
    strengthen_cross_attention(model)
    random.seed(0)
    torch.manual_seed(0)
    data = PersonalizedBase(str(dataset), 64, 64, 1, "tok", model, [PROMPT], latent_sampling_method="deterministic")

    def cond(n):
        return model.get_learned_conditioning([PROMPT] * n)

    before_vec = shared.embeddings.word_embeddings["tok"].vec.clone()
    before_cond = cond(1)
    before = eval_loss(model, data, cond)
    shared.state.begin("train")
    embedding, filename = _train(dataset, 20)
    after = eval_loss(model, data, cond)
    assert embedding.step == 20 and not embedding.vec.requires_grad
    assert after < before * 0.995, (before, after)

    saved = torch.load(filename, weights_only=True)
    assert saved["step"] == 20 and saved["name"] == "tok" and saved["string_to_token"] == {"*": 265}
    assert saved["sd_checkpoint"] == model.sd_checkpoint_info.shorthash
    assert saved["sd_checkpoint_name"] == model.sd_checkpoint_info.model_name
    assert not torch.equal(saved["string_to_param"]["*"], before_vec)
    # read back from disk by the database, it is the trained embedding and moves the prompt's conditioning
    shared.embeddings.load_textual_inversion_embeddings(force_reload=True)
    reloaded = shared.embeddings.word_embeddings["tok"]
    assert reloaded.step == 20 and torch.equal(reloaded.vec, saved["string_to_param"]["*"])
    after_cond = cond(1)
    assert (after_cond - before_cond).abs().max() > 1e-3
    assert torch.equal(cond(1), after_cond), "no stale conditioning left behind"

    log_dir = _log_dir(shared)
    copies = sorted(os.listdir(os.path.join(log_dir, "embeddings")))
    # A1111 names a copy after step + 1: saved at steps 4, 9, 14, 19
    assert copies == ["tok-10.pt", "tok-15.pt", "tok-20.pt", "tok-5.pt"]
    assert torch.load(os.path.join(log_dir, "embeddings", "tok-10.pt"), weights_only=True)["name"] == "tok-10"
    rows = list(csv.DictReader(open(os.path.join(log_dir, "textual_inversion_loss.csv"), encoding="utf8")))
    assert [int(r["step"]) for r in rows] == list(range(1, 21))
    # 4 pictures in batches of 2: two steps per epoch
    assert [(r["epoch"], r["epoch_step"]) for r in rows[:3]] == [("0", "0"), ("0", "1"), ("1", "0")]
    assert all(float(r["learn_rate"]) == 0.05 for r in rows)
    settings = json.load(open(glob.glob(os.path.join(log_dir, "settings-*.json"))[0], encoding="utf8"))
    assert settings["embedding_name"] == "tok" and settings["num_of_dataset_images"] == 4
    assert settings["num_vectors_per_token"] == 2 and settings["learn_rate"] == "0.05"
    assert shared.state.job_no == 20 and "Loss:" in shared.state.textinfo


def test_resume_continues_from_the_saved_step_and_interrupt_stops_and_saves(training_app, capsys, monkeypatch):
    shared, dataset = training_app
    shared.opts.save_optimizer_state = True
    shared.state.begin("train")
    _train(dataset, 4, learn_rate="0.05:2, 0.01")
    filename = os.path.join(shared.cmd_opts.embeddings_dir, "tok.pt")
    optim = torch.load(f"{filename}.optim", weights_only=True)
    vec = torch.load(filename, weights_only=True)["string_to_param"]["*"]
    assert optim["hash"] == embedding_checksum(vec) and optim["optimizer_state_dict"]["state"][0]["step"] == 4
    assert optim["optimizer_state_dict"]["param_groups"][0]["lr"] == 0.01
    capsys.readouterr()

    shared.embeddings.load_textual_inversion_embeddings(force_reload=True)
    embedding, _ = _train(dataset, 7, learn_rate="0.05:2, 0.01")
    assert "Loaded existing optimizer from checkpoint" in capsys.readouterr().out
    assert embedding.step == 7
    rows = list(csv.DictReader(open(os.path.join(_log_dir(shared), "textual_inversion_loss.csv"), encoding="utf8")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert [float(r["learn_rate"]) for r in rows] == [0.05, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01]
    assert torch.load(f"{filename}.optim", weights_only=True)["optimizer_state_dict"]["state"][0]["step"] == 7
    # already trained that far: nothing happens
    again, _ = _train(dataset, 7)
    assert again.step == 7 and shared.state.textinfo == "Model has already been trained beyond specified max steps"

    # interrupted after its third new step, the run ends there and saves what it has
    from modules.training import run

    real = run._after_step

    def interrupt_at_step_10(services, model, trainee, *args, **kwargs):
        real(services, model, trainee, *args, **kwargs)
        if trainee.step == 10:
            services.state.interrupt()

    monkeypatch.setattr(run, "_after_step", interrupt_at_step_10)
    embedding, _ = _train(dataset, 50)
    assert embedding.step == 10 and torch.load(filename, weights_only=True)["step"] == 10


BAD_INPUTS = [
    (dict(embedding_name=""), "embedding not selected"),
    (dict(embedding_name="missing"), "is not loaded"),
    (dict(learn_rate="fast"), "Invalid learning rate schedule"),
    (dict(batch_size=0), "Batch size must be positive"),
    (dict(batch_size=1.5), "Batch size must be integer"),
    (dict(data_root="/nonexistent/folder"), "Dataset directory doesn't exist"),
    (dict(template_filename="nope.txt"), "Prompt template file nope.txt not found"),
    (dict(steps=0), "Max steps is empty or 0"),
    (dict(clip_grad_mode="magic"), "Gradient Clipping must be one of"),
    (dict(latent_sampling_method="sometimes"), "Unknown latent sampling method"),
    (dict(training_width=60), "multiples of 8"),
]


def test_bad_inputs_are_refused_then_previews_hold_the_embedding(training_app, capsys):
    shared, dataset = training_app
    shared.state.begin("train")
    for change, message in BAD_INPUTS:
        change = dict(change)
        with pytest.raises(TrainingError, match=message):
            _train(dataset, change.pop("steps", 2), **change)
    assert torch.load(os.path.join(shared.cmd_opts.embeddings_dir, "tok.pt"), weights_only=True)["step"] == 0
    assert not os.path.exists(os.path.join(shared.cmd_opts.data_dir, "textual_inversion"))

    # previews: the txt2img settings, and the last saved copy inside the picture; tensorboard asked for but not
    # installed is a message, and training goes on (A1111)
    tensorboard_installed = importlib.util.find_spec("tensorboard") is not None
    shared.opts.training_enable_tensorboard = True
    _train(dataset, 2, batch_size=4, create_image_every=2, save_embedding_every=1, preview_from_txt2img=True,
           preview_prompt="a tok", preview_steps=2, preview_width=64, preview_height=64, preview_seed=5)
    log_dir = _log_dir(shared)
    assert os.listdir(os.path.join(log_dir, "images")) == ["tok-2.png"]
    from PIL import Image

    with Image.open(os.path.join(log_dir, "images", "tok-2.png")) as image:
        assert image.size == (64, 64) and "a tok" in image.info["parameters"] and "Steps: 2" in image.info["parameters"]
    # the picture with the last copy (step 1, named tok-2) inside loads as that embedding
    from modules.prompting.textual_inversion.file_loading import read_embedding_data

    path = os.path.join(log_dir, "image_embeddings", "tok-2.png")
    data = read_embedding_data(path)
    copy = torch.load(os.path.join(log_dir, "embeddings", "tok-2.pt"), weights_only=True)
    assert data["name"] == "tok-2" and data["step"] == 1
    assert torch.allclose(data["string_to_param"]["*"], copy["string_to_param"]["*"])
    assert shared.state.id_live_preview >= 1
    if not tensorboard_installed:
        assert "Error initializing tensorboard (training goes on without it)" in capsys.readouterr().out
