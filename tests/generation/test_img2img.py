"""img2img and inpainting on a tiny checkpoint: denoising 0, the unmasked area kept, fill modes, tiling."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from modules.processing import GenerationError, StableDiffusionProcessingImg2Img, process_images
from modules.processing.latents import decode_first_stage, encode_images, pil_to_tensor


def picture(seed: int = 0, size: int = 64) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
    return Image.fromarray(base).resize((size, size), Image.Resampling.BICUBIC)


def img2img(**kw):
    args = dict(init_images=[picture()], prompt="a cat", steps=4, width=64, height=64, seed=3,
                sampler_name="Euler", denoising_strength=0.6)
    args.update(kw)
    return process_images(StableDiffusionProcessingImg2Img(**args))


def test_denoising_zero_returns_the_init_image_through_the_vae(app, monkeypatch):
    app()
    from modules.processing import pipeline

    seen = {}
    decode = pipeline.decode_latent_batch
    monkeypatch.setattr(pipeline, "decode_latent_batch", lambda model, samples, **kw: seen.setdefault("s", samples) is None or decode(model, samples, **kw))

    def run(strength):
        p = StableDiffusionProcessingImg2Img(init_images=[picture(1)], prompt="a cat", steps=4, width=64, height=64,
                                             seed=3, sampler_name="Euler", denoising_strength=strength)
        seen.clear()
        res = process_images(p)
        return res, (seen["s"] - p.init_latent).abs().mean().item(), p.init_latent.std().item()

    res, change, spread = run(0.0)
    # only the last, smallest sigma of the schedule is added and removed again (A1111's sampler does the same)
    assert change < 0.15 * spread
    _, change_full, _ = run(1.0)
    assert change < 0.1 * change_full
    assert "Denoising strength: 0.0" in res.infotexts[0]


def test_inpainting_keeps_the_unmasked_area_exactly(app):
    app()
    init = picture(2)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))  # left half masked
    res = img2img(init_images=[init], mask=mask, mask_blur=0, inpaint_full_res=False, inpainting_fill=1,
                  denoising_strength=0.9)
    out, src = np.asarray(res.images[0]), np.asarray(init)
    assert np.array_equal(out[:, 32:], src[:, 32:])
    assert np.abs(out[:, :32].astype(int) - src[:, :32].astype(int)).mean() > 3
    assert "Masked content: original" not in res.infotexts[0]  # A1111 writes it only for the other modes


def test_inpaint_not_masked_and_only_masked(app):
    app()
    init = picture(3)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    res = img2img(init_images=[init], mask=mask, inpainting_mask_invert=1, mask_blur=0, inpaint_full_res=False)
    out, src = np.asarray(res.images[0]), np.asarray(init)
    assert np.array_equal(out[20:44, 20:44], src[20:44, 20:44])  # the masked square is now the kept area
    assert "Mask mode: Inpaint not masked" in res.infotexts[0]
    res = img2img(init_images=[Image.fromarray(np.repeat(np.repeat(src, 2, 0), 2, 1))], mask=mask.resize((128, 128)),
                  inpaint_full_res=True, inpaint_full_res_padding=8, mask_blur=0)
    assert res.images[0].size == (128, 128)
    assert "Inpaint area: Only masked, Masked area padding: 8" in res.infotexts[0]
    big = np.repeat(np.repeat(src, 2, 0), 2, 1)
    assert np.array_equal(np.asarray(res.images[0])[:20], big[:20])  # outside the crop box: untouched


@pytest.mark.parametrize("fill,label", [(0, "fill"), (2, "latent noise"), (3, "latent nothing")])
def test_masked_content_modes(app, fill, label):
    app()
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 32))
    res = img2img(mask=mask, inpainting_fill=fill, inpaint_full_res=False)
    assert f"Masked content: {label}" in res.infotexts[0]


def test_inpainting_model_gets_mask_conditioning(app):
    shared = app("sd1-inpaint")
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    res = img2img(mask=mask, inpaint_full_res=False)
    assert res.images[0].size == (64, 64)
    from modules.processing import StableDiffusionProcessingTxt2Img

    res = process_images(StableDiffusionProcessingTxt2Img(prompt="x", steps=2, width=64, height=64, seed=1))
    assert res.images[0].size == (64, 64)


def test_resize_modes_and_init_image_count(app):
    app()
    wide = Image.fromarray(np.full((32, 96, 3), 200, np.uint8))
    for mode in (0, 1, 2, 3):
        assert img2img(init_images=[wide], resize_mode=mode).images[0].size == (64, 64)
    res = img2img(init_images=[picture(1), picture(2)], batch_size=3)
    assert len(res.images) == 3 and res.index_of_first_image == 1  # a grid and one picture per init image
    with pytest.raises(GenerationError, match="bad number of images"):
        img2img(init_images=[picture(1), picture(2)], batch_size=1)
    with pytest.raises(GenerationError, match="pictures"):
        img2img(init_images=[b"not an image"])


def test_tiling_makes_the_pipeline_wrap_around(app):
    shared = app()
    from modules.processing.pipeline import _tiling

    model = shared.sd_model
    z = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), _tiling(model, True):
        image = decode_first_stage(model, z)
        shifted = decode_first_stage(model, torch.roll(z, shifts=(4, 4), dims=(2, 3)))
        t = torch.tensor([500.0])
        context = model.get_learned_conditioning(["a cat"])
        eps = model.apply_model(z, t, {"c_crossattn": [context]})
        eps_shifted = model.apply_model(torch.roll(z, (2, 2), (2, 3)), t, {"c_crossattn": [context]})
    # circular padding everywhere: shifting the latent shifts the picture, so its edges meet seamlessly
    assert torch.allclose(torch.roll(image, (32, 32), (2, 3)), shifted, atol=1e-4)
    assert torch.allclose(torch.roll(eps, (2, 2), (2, 3)), eps_shifted, atol=1e-4)
    assert all(m.padding_mode == "zeros" for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    from modules.processing import StableDiffusionProcessingTxt2Img

    res = process_images(StableDiffusionProcessingTxt2Img(prompt="x", steps=2, width=64, height=64, tiling=True))
    assert "Tiling: True" in res.infotexts[0]


def test_mask_blur_is_written_only_when_both_directions_agree(app):
    app()
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    same = img2img(mask=mask, mask_blur=4, steps=2)
    assert "Mask blur: 4" in same.infotexts[0]
    p = StableDiffusionProcessingImg2Img(init_images=[picture()], prompt="a cat", steps=2, width=64, height=64, seed=3,
                                         sampler_name="Euler", denoising_strength=0.6, mask=mask)
    p.mask_blur_x, p.mask_blur_y = 4, 0
    assert "Mask blur" not in process_images(p).infotexts[0]
