"""The pieces of training without a model: schedules, captions and prompts, batches, the loss against diffusers,
embedding pictures read back by the loader, the loss CSV."""
from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from modules.training.dataset import PersonalizedBase, caption_from_filename, grouped_batches, read_caption
from modules.training.diffusion_loss import noised, target_for
from modules.training.learn_rate import LearnRateError, LearnRateScheduler, parse_schedule
from modules.training.logs import write_loss


@pytest.mark.parametrize("text, cur, expected", [
    ("0.005", 0, [(0.005, 100)]),
    ("0.005:10, 1e-3:50, 1e-5", 0, [(0.005, 10), (0.001, 50), (1e-5, 100)]),
    ("0.005:10, 1e-3:50, 1e-5", 20, [(0.001, 50), (1e-5, 100)]),
    ("0.1:500, 0.2:1000", 0, [(0.1, 100)]),
    ("0.1:10, 0.2:-1, 0.3:90", 0, [(0.1, 10), (0.2, 100)]),
    (" 0.1:10 , , 0.01:20", 0, [(0.1, 10), (0.01, 20)]),
])
def test_schedule_syntax(text, cur, expected):
    assert parse_schedule(text, 100, cur) == expected


@pytest.mark.parametrize("text", ["", "abc", "0.1:x", "0.1:5"])
def test_bad_schedules_name_the_syntax(text):
    with pytest.raises(LearnRateError, match="0.001:100"):
        parse_schedule(text, 100, 10)


def test_scheduler_switches_rates_and_finishes():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = LearnRateScheduler("0.5:2, 0.25:4", 10, verbose=False)
    seen = []
    for step in range(6):
        scheduler.apply(optimizer, step)
        seen.append((optimizer.param_groups[0]["lr"] if step else scheduler.learn_rate, scheduler.finished))
    assert seen == [(0.5, False), (1.0, False), (0.25, False), (0.25, False), (0.25, True), (0.25, True)]


def test_captions_from_text_files_or_file_names(tmp_path):
    assert caption_from_filename("00012-a red, cat.png") == "a red, cat"
    assert caption_from_filename("-3-4 dog.jpg") == "dog" and caption_from_filename("-3 4 dog.jpg") == "4 dog"
    assert caption_from_filename("17-big_red_dog.png", r"[a-z]+", ", ") == "big, red, dog"
    (tmp_path / "1-x.png").write_bytes(b"")
    (tmp_path / "1-x.txt").write_text("from, the, text", encoding="utf8")
    assert read_caption(str(tmp_path / "1-x.png"), r"[a-z]+") == "from, the, text"


class _Vae:
    """A fake model: the 'VAE' averages 8x8 blocks into a posterior with std 0.5."""

    def __init__(self):
        self.first_stage_model = torch.nn.Linear(1, 1)

    def encode_first_stage(self, x):
        from modules.models.nets.autoencoder import DiagonalGaussian

        mean = torch.nn.functional.avg_pool2d(x, 8)[:, :2].repeat(1, 2, 1, 1)
        return DiagonalGaussian(torch.cat([mean, torch.full_like(mean, float(np.log(0.25)))], dim=1))

    def get_first_stage_encoding(self, encoded):
        from modules.models.nets.autoencoder import DiagonalGaussian

        return (encoded.sample() if isinstance(encoded, DiagonalGaussian) else encoded) * 0.5


def _pictures(folder, sizes):
    folder.mkdir()
    for i, size in enumerate(sizes):
        Image.new("RGB", size, (40 * i, 100, 200)).save(folder / f"{i}-pic a, b, c.png")
    (folder / "notes.md").write_text("not a picture", encoding="utf8")


def test_dataset_latent_sampling_prompts_and_buckets(tmp_path):
    _pictures(tmp_path / "d", [(64, 64), (64, 64), (64, 64), (32, 64)])
    common = dict(data_root=str(tmp_path / "d"), width=64, height=64, repeats=1, placeholder_token="NAME",
                  model=_Vae(), template_lines=["[name] shows [filewords]"])
    once = PersonalizedBase(**common, latent_sampling_method="once", batch_size=2)
    assert len(once) == 4 and once.batch_size == 2 and once[0].latent_sample.shape == (4, 8, 8)
    assert once[0].cond_text == "NAME shows pic a, b, c"
    assert torch.equal(once[0].latent_sample, once[0].latent_sample), "once: the same sample every time"
    deterministic = PersonalizedBase(**common, latent_sampling_method="deterministic")
    mean = torch.nn.functional.avg_pool2d(torch.full((1, 3, 64, 64), 100 / 127.5 - 1), 8)[0, 0]
    assert torch.allclose(deterministic[1].latent_sample[1], mean * 0.5)
    rand = PersonalizedBase(**common, latent_sampling_method="random")
    assert not torch.equal(rand[0].latent_sample.clone(), rand[0].latent_sample)
    shuffled = PersonalizedBase(**common, shuffle_tags=True, tag_drop_out=0.5, rng=random.Random(3))
    texts = {shuffled[0].cond_text for _ in range(30)}
    assert len(texts) > 3 and all(t.startswith("NAME shows") for t in texts)
    sized = PersonalizedBase(**common, varsize=True, batch_size=2)
    assert sorted(len(g) for g in sized.groups) == [1, 3]
    for _ in range(5):
        batches = grouped_batches(sized, 2, random.Random())
        assert len(batches) == 2
        assert all(len({sized.dataset[i].latent_sample.shape for i in b}) == 1 for b in batches), "one size a batch"


def test_alpha_channel_becomes_a_loss_weight(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 3] = 0
    rgba[:, 32:, 3] = 255
    Image.fromarray(rgba, "RGBA").save(folder / "x.png")
    data = PersonalizedBase(str(folder), 64, 64, 1, "n", _Vae(), ["[name]"], use_weight=True)
    weight = data[0].weight
    assert weight.shape == (4, 8, 8) and weight.min() == 0 and torch.isclose(weight.mean(), torch.tensor(1.0))
    # transparent half 0, opaque half the largest weight (Pillow's resize blurs the column between)
    assert torch.all(weight[:, :, :3] == 0) and torch.all(weight[:, :, 5:] == weight.max()) and weight.max() > 1.5


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_noising_and_targets_match_diffusers(prediction):
    from diffusers import DDPMScheduler

    from modules.models.schedule import make_alphas_cumprod

    scheduler = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              prediction_type=prediction)
    ours = make_alphas_cumprod(linear_start=0.00085, linear_end=0.012, timesteps=1000)
    generator = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(3, 4, 8, 8, generator=generator), torch.randn(3, 4, 8, 8, generator=generator)
    t = torch.tensor([0, 500, 999])
    assert torch.allclose(noised(x0, noise, ours, t), scheduler.add_noise(x0, noise, t), atol=1e-5)
    expected = noise if prediction == "epsilon" else scheduler.get_velocity(x0, noise, t)
    got = target_for("eps" if prediction == "epsilon" else "v", x0, noise, ours, t)
    assert torch.allclose(got, expected, atol=1e-5)


def test_loss_csv_rows_and_header(tmp_path):
    for step in range(1, 7):
        write_loss(str(tmp_path), "x.csv", step, 4, {"loss": f"{step / 10:.7f}", "learn_rate": 0.1}, every=2)
    assert (tmp_path / "x.csv").read_text().splitlines() == [
        "step,epoch,epoch_step,loss,learn_rate", "2,0,1,0.2000000,0.1", "4,0,3,0.4000000,0.1", "6,1,1,0.6000000,0.1"]
    assert not write_loss(str(tmp_path), "y.csv", 5, 4, {"loss": 1}, every=0)


def test_embedding_picture_round_trips_through_both_stores(tmp_path):
    from modules.prompting.textual_inversion.database import EmbeddingDatabase
    from modules.prompting.textual_inversion.image_data import extract_image_data_embed
    from modules.training.embedding_image import embedding_preview_png

    vec = torch.randn(3, 32, generator=torch.Generator().manual_seed(5))
    data = {"string_to_token": {"*": 265}, "string_to_param": {"*": vec}, "name": "pictured", "step": 40,
            "sd_checkpoint": "abcdef1234", "sd_checkpoint_name": "tiny"}
    preview = Image.fromarray(np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    path = tmp_path / "emb" / "any-file-name.png"
    path.parent.mkdir()
    embedding_preview_png(preview, data, str(path), "tiny", "abcdef1234", 41)
    with Image.open(path) as image:
        assert image.size[1] == 64 and image.size[0] > 64 + 2
        # the pixel copy alone (the text chunk dropped) holds the same vectors
        from_pixels = extract_image_data_embed(image.convert("RGB"))
    assert torch.allclose(from_pixels["string_to_param"]["*"], vec) and from_pixels["name"] == "pictured"
    db = EmbeddingDatabase()
    db.add_embedding_dir(str(path.parent))
    db.load_textual_inversion_embeddings(force_reload=True)
    loaded = db.word_embeddings["pictured"]
    assert loaded.step == 40 and loaded.vectors == 3 and torch.allclose(loaded.vec, vec)
    assert SimpleNamespace(**db.api_answer()["loaded"]["pictured"]).sd_checkpoint == "abcdef1234"


def test_a1111_import_paths_of_training():
    from modules.hypernetworks.hypernetwork import train_hypernetwork
    from modules.textual_inversion.dataset import PersonalizedBase as Dataset
    from modules.textual_inversion.image_embedding import embedding_from_b64, embedding_to_b64
    from modules.textual_inversion.learn_schedule import LearnRateScheduler as Scheduler
    from modules.textual_inversion.saving_settings import save_settings_to_file
    from modules.textual_inversion.textual_inversion import train_embedding
    from modules.training import hypernetwork, logs, textual_inversion

    assert train_embedding is textual_inversion.train_embedding
    assert train_hypernetwork is hypernetwork.train_hypernetwork
    assert Dataset is PersonalizedBase and Scheduler is LearnRateScheduler
    assert save_settings_to_file is logs.save_settings_to_file
    data = {"string_to_param": {"*": torch.arange(6.0).reshape(2, 3)}, "name": "x", "step": 3}
    back = embedding_from_b64(embedding_to_b64(data))
    assert torch.equal(back["string_to_param"]["*"], data["string_to_param"]["*"]) and back["step"] == 3


def test_models_training_does_not_support_are_refused():
    from modules.training.common import trainable_model
    from modules.training.validation import TrainingError

    with pytest.raises(TrainingError, match="No model is loaded"):
        trainable_model(SimpleNamespace(sd_model=None))
    sdxl = type("DiffusionEngine", (), {"conditioner": object()})()
    with pytest.raises(TrainingError, match="SD1 and SD2"):
        trainable_model(SimpleNamespace(sd_model=sdxl))
