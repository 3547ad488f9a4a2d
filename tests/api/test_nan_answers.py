"""A NaN made anywhere in a batch fails the job naming the stage, in A1111's NansException shape; the next request works."""
from __future__ import annotations

import pytest
import torch

from tests.api.conftest import SMALL

pytestmark = pytest.mark.usefixtures("tiny")


def poison_rows(monkeypatch, module: torch.nn.Module, rows: slice) -> None:
    """Make ``module`` answer NaN in ``rows`` of its batch (the uncond half of a CFG batch, say)."""
    original = module.forward

    def forward(*args, **kwargs):
        out = original(*args, **kwargs)
        out = out.clone()
        out[rows] = float("nan")
        return out

    monkeypatch.setattr(module, "forward", forward)


def assert_nans_answer(response, stage_words: str) -> None:
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "NansException"
    assert stage_words in body["errors"]
    assert "--disable-nan-check" in body["errors"]


@pytest.fixture
def client(tiny):
    client, shared, _data_dir = tiny
    return client, shared


def test_nan_in_the_uncond_row_of_the_unet(client, monkeypatch):
    client, shared = client
    poison_rows(monkeypatch, shared.sd_model.model.diffusion_model, slice(1, 2))
    assert_nans_answer(client.post("/sdapi/v1/txt2img", json={**SMALL, "seed": 11}), "Unet")
    monkeypatch.undo()
    assert client.post("/sdapi/v1/txt2img", json={**SMALL, "seed": 11}).status_code == 200


def test_nan_from_the_text_encoder(client, monkeypatch):
    client, shared = client
    encoder = shared.sd_model.cond_stage_model
    original = encoder.forward
    monkeypatch.setattr(encoder, "forward", lambda *a, **k: original(*a, **k) * float("nan"))
    assert_nans_answer(client.post("/sdapi/v1/txt2img", json={**SMALL, "negative_prompt": "a nan test"}),
                       "text encoder")
    monkeypatch.undo()
    assert client.post("/sdapi/v1/txt2img", json={**SMALL, "negative_prompt": "a nan test"}).status_code == 200


def test_nan_from_the_vae(client, monkeypatch):
    client, shared = client
    poison_rows(monkeypatch, shared.sd_model.first_stage_model.decoder, slice(0, 1))
    assert_nans_answer(client.post("/sdapi/v1/txt2img", json=SMALL), "VAE")
    monkeypatch.undo()
    assert client.post("/sdapi/v1/txt2img", json=SMALL).status_code == 200


def test_disable_nan_check_lets_the_batch_through(client, monkeypatch):
    client, shared = client
    monkeypatch.setattr(shared.cmd_opts, "disable_nan_check", True)
    poison_rows(monkeypatch, shared.sd_model.model.diffusion_model, slice(1, 2))
    assert client.post("/sdapi/v1/txt2img", json={**SMALL, "seed": 12}).status_code == 200
