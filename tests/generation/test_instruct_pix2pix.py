"""InstructPix2Pix: the picture being edited reaches the UNet as the unscaled VAE mode (8-channel input), the
three-branch guidance follows Image CFG scale, and txt2img on such a model runs with an empty picture."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from modules.processing import StableDiffusionProcessingImg2Img, StableDiffusionProcessingTxt2Img, process_images
from modules.processing.conditioning_images import edit_conditioning


def picture(seed: int, size: int = 64) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)).resize(
        (size, size), Image.Resampling.BICUBIC)


def edit(init: Image.Image, **kw):
    args = dict(init_images=[init], prompt="make it snow", steps=3, width=64, height=64, seed=5,
                sampler_name="Euler", denoising_strength=1.0, cfg_scale=7.0, image_cfg_scale=1.5)
    args.update(kw)
    p = StableDiffusionProcessingImg2Img(**args)
    return p, process_images(p)


def test_the_edited_picture_is_the_unscaled_vae_mode(app):
    shared = app("instruct-pix2pix")
    model = shared.sd_model
    assert model.cond_stage_key == "edit" and model.model.diffusion_model.in_channels == 8
    x = torch.from_numpy(np.asarray(picture(1), dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    expected = model.first_stage_model.encode(x).mode()
    assert torch.equal(edit_conditioning(model, x), expected)
    assert model.scale_factor != 1.0, "the scale factor is left out on purpose: the check would be vacuous at 1"

    p, res = edit(picture(1))
    assert p.image_conditioning.shape == (1, 4, 8, 8)
    assert torch.allclose(p.image_conditioning, expected, atol=1e-5)
    assert "Image CFG scale: 1.5" in res.infotexts[0]


def test_the_picture_and_image_cfg_scale_steer_the_result(app):
    app("instruct-pix2pix")
    _, a = edit(picture(1))
    _, b = edit(picture(2))
    _, c = edit(picture(1), image_cfg_scale=1.0)
    _, again = edit(picture(1))
    as_array = [np.asarray(r.images[0], dtype=np.int16) for r in (a, b, c, again)]
    # the same edit gives nearly the same picture (the VAE posterior sample of the init latent is not seeded)
    same = np.abs(as_array[0] - as_array[3]).mean()
    assert same < 0.1
    # at denoising 1 the init latent is pure noise: only the edit conditioning tells the two pictures apart
    assert np.abs(as_array[0] - as_array[1]).mean() > 10 * max(same, 0.1)
    assert np.abs(as_array[0] - as_array[2]).mean() > 5 * max(same, 0.1)
    assert "Image CFG scale: 1.0" in c.infotexts[0]


def test_three_branches_run_when_image_cfg_scale_is_not_one(app, monkeypatch):
    shared = app("instruct-pix2pix")
    unet = shared.sd_model.model.diffusion_model
    batches = []
    forward = unet.forward

    def counting(x, *args, **kwargs):
        batches.append(x.shape[0])
        assert x.shape[1] == 8
        return forward(x, *args, **kwargs)

    monkeypatch.setattr(unet, "forward", counting)
    edit(picture(1), steps=2)
    assert set(batches) == {3}
    batches.clear()
    edit(picture(1), steps=2, image_cfg_scale=1.0)
    assert set(batches) == {2}


def test_txt2img_on_an_edit_model_runs_with_an_empty_picture(app):
    app("instruct-pix2pix")
    p = StableDiffusionProcessingTxt2Img(prompt="a cat", steps=2, width=64, height=64, seed=1, sampler_name="Euler")
    res = process_images(p)
    assert res.images[0].size == (64, 64)
    assert "Image CFG scale" not in res.infotexts[0]


def test_the_image_cfg_scale_slider_shows_only_for_an_edit_model(app, monkeypatch):
    from modules import shared
    from modules.ui.frame import image_cfg_scale_visible

    app("instruct-pix2pix")
    assert image_cfg_scale_visible()["visible"] is True
    monkeypatch.setattr(shared, "sd_model", None)
    assert image_cfg_scale_visible()["visible"] is False
