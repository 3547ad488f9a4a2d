"""txt2img end to end on a tiny checkpoint: reproducible bytes, seeds, variations, bad input, interrupt."""
from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
import torch

from modules.processing import GenerationError, StableDiffusionProcessingTxt2Img, process_images


def png_bytes(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def txt2img(**kw):
    args = dict(prompt="a cat", negative_prompt="", steps=3, width=64, height=64, seed=7, sampler_name="Euler")
    args.update(kw)
    return process_images(StableDiffusionProcessingTxt2Img(**args))


def test_same_request_twice_gives_identical_pngs_and_files(app, data_dir):
    shared = app()
    a = txt2img(sampler_name="Euler a")
    b = txt2img(sampler_name="Euler a")
    assert png_bytes(a.images[0]) == png_bytes(b.images[0])
    saved = sorted(os.listdir(data_dir / "outputs" / "txt2img-images" / os.listdir(data_dir / "outputs" / "txt2img-images")[0]))
    assert len(saved) == 2
    from modules.processing.image_saving_info import read_info_from_image
    from PIL import Image

    folder = data_dir / "outputs" / "txt2img-images" / os.listdir(data_dir / "outputs" / "txt2img-images")[0]
    info, _ = read_info_from_image(Image.open(folder / saved[0]))
    assert info == a.infotexts[0]
    assert (data_dir / "params.txt").read_text() == a.infotexts[0]


def test_infotext_matches_a1111_format(app):
    shared = app()
    res = txt2img(prompt="a photo of a cat", sampler_name="Euler a", seed=1234)
    name = shared.sd_model.sd_checkpoint_info.name_for_extra
    digest = shared.sd_model.sd_model_hash
    assert res.infotexts[0] == (f"a photo of a cat\nSteps: 3, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7.0, "
                                f"Seed: 1234, Size: 64x64, Model hash: {digest}, Model: {name}, Version: v1.10.1")
    info = json.loads(res.js())
    assert info["all_seeds"] == [1234] and info["sd_model_hash"] == digest and info["version"] == "v1.10.1"


def test_batch_seeds_follow_a1111_rules(app):
    app()
    res = txt2img(batch_size=2, n_iter=2, seed=100, subseed=5)
    assert res.all_seeds == [100, 101, 102, 103]
    assert res.all_subseeds == [5, 6, 7, 8]
    assert len(res.images) == 5 and res.index_of_first_image == 1  # grid first
    # with a variation strength the seed stays and the subseed increments
    res = txt2img(batch_size=2, seed=100, subseed=5, subseed_strength=0.5)
    assert res.all_seeds == [100, 100] and res.all_subseeds == [5, 6]
    assert "Variation seed: 5, Variation seed strength: 0.5" in res.infotexts[1]


def test_batch_reproduces_single_generations(app):
    app()
    batch = txt2img(batch_size=2, seed=10, sampler_name="Euler a")
    single = txt2img(seed=11, sampler_name="Euler a")
    # same noise per image; batched matrix products may round differently in the last bit
    diff = np.abs(np.asarray(batch.images[2]).astype(int) - np.asarray(single.images[0]).astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.1


def test_variation_strength_zero_is_the_base_image_and_one_is_the_subseed(app):
    app()
    base = np.asarray(txt2img(seed=3).images[0])
    assert np.array_equal(np.asarray(txt2img(seed=3, subseed=9, subseed_strength=0.0).images[0]), base)
    other = np.asarray(txt2img(seed=9).images[0])
    full = np.asarray(txt2img(seed=3, subseed=9, subseed_strength=1.0).images[0])
    assert np.abs(full.astype(int) - other.astype(int)).max() <= 1
    assert not np.array_equal(base, other)


def test_cpu_rng_noise_is_device_independent(app):
    shared = app()
    shared.opts.set("randn_source", "CPU")
    from modules.processing.rng import ImageRNG

    a = ImageRNG((4, 8, 8), [5], settings=shared.opts, device="cpu").first()
    torch.manual_seed(5)
    b = torch.randn((4, 8, 8))
    assert torch.equal(a[0], b)
    res = txt2img(seed=5)
    assert "RNG: CPU" in res.infotexts[0]


@pytest.mark.parametrize("kw,message", [
    ({"sampler_name": "No Such Sampler"}, "No Such Sampler"),
    ({"steps": 0}, "steps"), ({"steps": 10000}, "steps"),
    ({"width": 65}, "multiples of 8"), ({"width": 16384, "height": 16384}, "limit"),
])
def test_bad_input_is_a_clear_error_saves_nothing_and_next_request_works(app, data_dir, kw, message):
    app()
    with pytest.raises(GenerationError, match=message):
        txt2img(**kw)
    assert not (data_dir / "outputs").exists()
    assert len(txt2img().images) == 1


def test_old_combined_sampler_names(app):
    app()
    res = txt2img(sampler_name="DPM++ 2M Karras")
    assert "Sampler: DPM++ 2M, Schedule type: Karras" in res.infotexts[0]


def test_override_settings_hold_for_the_job_only(app, data_dir):
    shared = app()
    before = dict(shared.opts.data)
    res = txt2img(override_settings={"CLIP_stop_at_last_layers": 2, "samples_format": "jpg",
                                     "eta_noise_seed_delta": 31337, "not_in_config_key": 5})
    assert "Clip skip: 2" in res.infotexts[0]
    assert shared.opts.data == before
    assert "not_in_config_key" not in shared.opts.data


def request_at_second_step(monkeypatch, shared, request):
    """Count denoiser calls; at the second one call ``request`` (the state's interrupt or skip)."""
    from modules.sampling import cfg_denoiser

    calls = {"n": 0}
    original = cfg_denoiser.CFGDenoiser.forward

    def counting(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            request()
        return original(self, *a, **k)

    monkeypatch.setattr(cfg_denoiser.CFGDenoiser, "forward", counting)
    shared.state.begin("test")
    return calls


def test_interrupt_mid_sampling_stops_the_job(app, monkeypatch):
    shared = app()
    calls = request_at_second_step(monkeypatch, shared, lambda: shared.state.interrupt())
    res = txt2img(steps=20, n_iter=3)
    assert calls["n"] == 2
    assert len(res.images) == 1  # the interrupted batch is returned, the next ones never start


def test_skip_ends_the_current_batch_only(app, monkeypatch):
    shared = app()
    calls = request_at_second_step(monkeypatch, shared, lambda: shared.state.skip())
    res = txt2img(steps=5, n_iter=2)
    assert calls["n"] == 2 + 5
    assert len(res.all_seeds) == 2 and len(res.images) == 3


def test_hires_fix_sizes_and_infotext(app):
    app()
    res = txt2img(enable_hr=True, hr_scale=1.5, denoising_strength=0.5, hr_second_pass_steps=2)
    assert res.images[0].size == (96, 96)
    assert "Denoising strength: 0.5, Hires upscale: 1.5, Hires steps: 2" in res.infotexts[0]
    res = txt2img(enable_hr=True, hr_resize_x=128, hr_resize_y=96, denoising_strength=0.5, hr_upscaler="Lanczos")
    assert res.images[0].size == (128, 96)
    assert "Hires resize: 128x96" in res.infotexts[0] and "Hires upscaler: Lanczos" in res.infotexts[0]
    with pytest.raises(GenerationError, match="Nope"):
        txt2img(enable_hr=True, hr_upscaler="Nope")


def test_textual_inversion_embedding_used_and_hashed(app, data_dir):
    shared = app()
    import hashlib

    from safetensors.torch import save_file

    width = shared.sd_model.get_learned_conditioning(["x"]).shape[-1]
    path = data_dir / "embeddings" / "myemb.safetensors"
    save_file({"emb_params": torch.randn(2, width, generator=torch.Generator().manual_seed(0))}, str(path))
    plain = txt2img(prompt="a photo of cat")
    used = txt2img(prompt="a photo of myemb")
    assert f'TI hashes: "myemb: {hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"' in used.infotexts[0]
    assert "TI hashes" not in plain.infotexts[0]
    assert not np.array_equal(np.asarray(plain.images[0]), np.asarray(used.images[0]))
    assert "myemb" in shared.embeddings.word_embeddings
