"""Every multiple of 8 works: txt2img, hires fix, img2img and inpaint "only masked" at sizes whose latent halves to odd.

The tiny checkpoint downsamples once, so a 9- or 11-pixel latent side (72 or 88 pixels) comes back from
the upsampling one larger than its skip connection, the case A1111 resolves by resizing.
(The full-size SD1.5 checkpoint is tested at 96x64 against A1111's own pixels in tests/fullsize.)
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from modules.processing import StableDiffusionProcessingImg2Img, StableDiffusionProcessingTxt2Img, process_images


def finite_size(result, width: int, height: int) -> None:
    image = result.images[0]
    assert image.size == (width, height)
    assert np.asarray(image).std() > 0


def test_odd_latent_sizes_through_every_mode(app):
    app()
    base = dict(prompt="a cat", negative_prompt="", steps=2, seed=5, sampler_name="Euler")
    finite_size(process_images(StableDiffusionProcessingTxt2Img(**base, width=72, height=88)), 72, 88)

    hires = StableDiffusionProcessingTxt2Img(**base, width=64, height=64, enable_hr=True, hr_scale=1.125,
                                             hr_upscaler="Latent", denoising_strength=0.5, hr_second_pass_steps=1)
    finite_size(process_images(hires), 72, 72)

    init = Image.fromarray(np.random.default_rng(0).integers(0, 255, (88, 72, 3), dtype=np.uint8))
    finite_size(process_images(StableDiffusionProcessingImg2Img(**base, init_images=[init], width=72, height=88,
                                                                denoising_strength=0.6)), 72, 88)

    mask = Image.new("L", (72, 88), 0)
    mask.paste(255, (8, 16, 40, 56))
    inpaint = StableDiffusionProcessingImg2Img(**base, init_images=[init], mask=mask, width=88, height=72,
                                               denoising_strength=0.6, inpaint_full_res=True,
                                               inpaint_full_res_padding=4)
    finite_size(process_images(inpaint), 72, 88)
