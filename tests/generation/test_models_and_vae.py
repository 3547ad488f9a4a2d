"""Switching checkpoints through the options API frees the old one; VAE selection follows A1111's order."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import save_file

from modules.models.tiny_factory import make_tiny_checkpoint, tiny_state_dict
from modules.processing import StableDiffusionProcessingTxt2Img, process_images


def generate(**kw):
    args = dict(prompt="a cat", steps=2, width=64, height=64, seed=1, sampler_name="Euler")
    args.update(kw)
    return process_images(StableDiffusionProcessingTxt2Img(**args))


def write_vae(path, seed):
    sd = tiny_state_dict("sd1", seed=seed)
    vae = {k.removeprefix("first_stage_model."): v for k, v in sd.items() if k.startswith("first_stage_model.")}
    vae["loss.logvar"] = torch.zeros(1)  # training leftovers are dropped
    save_file(vae, str(path))


def test_switching_checkpoint_through_options_api_frees_the_old_one(started, data_dir, restore_shared):
    sd_dir = data_dir / "models" / "Stable-diffusion"
    make_tiny_checkpoint("sd1", sd_dir, name="first", seed=0)
    make_tiny_checkpoint("sd1", sd_dir, name="second", seed=1)
    started("--api")
    shared = restore_shared
    assert shared.sd_model.sd_checkpoint_info.name == "first.safetensors"
    first = weakref.ref(shared.sd_model)
    image_first = np.asarray(generate().images[0])

    from modules.app_server import create_app

    client = TestClient(create_app(shared.cmd_opts, with_ui=False))
    assert client.post("/sdapi/v1/options", json={"sd_model_checkpoint": "second"}).status_code == 200
    assert shared.sd_model.sd_checkpoint_info.name == "second.safetensors"
    assert client.get("/sdapi/v1/options").json()["sd_model_checkpoint"].startswith("second.safetensors [")
    res = generate()
    assert "Model: second" in res.infotexts[0]
    assert not np.array_equal(np.asarray(res.images[0]), image_first)
    gc.collect()
    assert first() is None  # sd_checkpoints_limit 1: the old model is gone
    assert list(shared.model_manager.loaded) == [shared.sd_model.sd_checkpoint_info.filename]

    # switching back gives the first model's pictures again
    client.post("/sdapi/v1/options", json={"sd_model_checkpoint": "first.safetensors"})
    assert np.array_equal(np.asarray(generate().images[0]), image_first)


def test_failed_load_keeps_the_previous_model(started, data_dir, restore_shared):
    sd_dir = data_dir / "models" / "Stable-diffusion"
    make_tiny_checkpoint("sd1", sd_dir, name="good")
    (sd_dir / "zbroken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    started()
    shared = restore_shared
    good = shared.sd_model
    with pytest.raises(Exception):
        shared.opts.set("sd_model_checkpoint", shared.checkpoints.get_closest_match("zbroken").title)
    assert shared.sd_model is good
    assert len(generate().images) == 1


def test_vae_setting_loads_and_none_restores_the_checkpoint_vae(app, data_dir):
    shared = app()
    base = np.asarray(generate().images[0])
    write_vae(data_dir / "models" / "VAE" / "other.safetensors", seed=5)
    shared.vae_files.refresh()
    shared.opts.set("sd_vae", "other.safetensors")
    res = generate()
    assert not np.array_equal(np.asarray(res.images[0]), base)
    assert "VAE hash: " in res.infotexts[0] and "VAE: other.safetensors" in res.infotexts[0]
    shared.opts.set("sd_vae", "None")
    again = generate()
    assert np.array_equal(np.asarray(again.images[0]), base)
    assert "VAE:" not in again.infotexts[0]


def test_vae_near_the_checkpoint_and_vae_path_flag(started, data_dir, restore_shared, tmp_path):
    sd_dir = data_dir / "models" / "Stable-diffusion"
    make_tiny_checkpoint("sd1", sd_dir, name="model")
    write_vae(sd_dir / "model.vae.safetensors", seed=3)
    started()
    assert restore_shared.sd_model.sd_vae_name == "model.vae.safetensors"
    forced = tmp_path / "forced.safetensors"
    write_vae(forced, seed=4)
    started("--vae-path", str(forced))
    assert restore_shared.sd_model.sd_vae_name == "forced.safetensors"
