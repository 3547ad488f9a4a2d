"""process_images calls the script hooks in A1111's order; colour correction and mask outputs."""
from __future__ import annotations

import numpy as np
from PIL import Image

from modules.processing import StableDiffusionProcessingImg2Img, StableDiffusionProcessingTxt2Img, process_images
from modules.processing.color_correction import apply_color_correction, lab_to_rgb, rgb_to_lab, setup_color_correction
from modules.scripting.script_base import HOOK_CALL_ORDER


class RecordingRunner:
    """Stands in for a ScriptRunner: records every hook the pipeline calls."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        if name in HOOK_CALL_ORDER or name in ("before_hr", "on_mask_blend"):
            return lambda p, *a, **k: self.calls.append(name)
        raise AttributeError(name)


def test_hook_order_of_a_real_job(app):
    app()
    runner = RecordingRunner()
    p = StableDiffusionProcessingTxt2Img(prompt="a cat", steps=2, width=64, height=64, sampler_name="Euler",
                                         scripts=runner)
    process_images(p)
    expected = [h for h in HOOK_CALL_ORDER if h != "setup"]  # setup runs when the UI/API assigns script args
    assert runner.calls == expected


def test_hires_adds_before_hr_and_sampling_hook_again(app):
    app()
    runner = RecordingRunner()
    process_images(StableDiffusionProcessingTxt2Img(prompt="a", steps=2, width=64, height=64, enable_hr=True,
                                                    hr_scale=1.5, denoising_strength=0.5, scripts=runner))
    i = runner.calls.index("process_before_every_sampling")
    assert runner.calls[i + 1:i + 3] == ["before_hr", "process_before_every_sampling"]


def test_lab_round_trip_and_histogram_matching():
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert np.abs(lab_to_rgb(rgb_to_lab(rgb)).astype(int) - rgb).max() <= 1
    assert np.allclose(rgb_to_lab(np.array([[[255, 255, 255]]], np.uint8))[0, 0], [100, 0, 0], atol=0.01)
    # a reddish target makes a grey picture reddish while its lightness stays
    target = Image.fromarray(np.tile(np.array([200, 60, 60], np.uint8), (8, 8, 1)))
    grey = Image.fromarray(np.tile(np.array([128, 128, 128], np.uint8), (8, 8, 1)))
    out = np.asarray(apply_color_correction(setup_color_correction(target), grey))
    assert out[0, 0, 0] > out[0, 0, 1] + 40
    assert abs(rgb_to_lab(out)[0, 0, 0] - rgb_to_lab(np.asarray(grey))[0, 0, 0]) < 1


def test_color_correction_and_mask_outputs_in_img2img(app):
    shared = app()
    shared.opts.set("img2img_color_correction", True)
    shared.opts.set("return_mask", True)
    shared.opts.set("return_mask_composite", True)
    init = Image.fromarray(np.tile(np.array([220, 40, 40], np.uint8), (64, 64, 1)))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 32))
    res = process_images(StableDiffusionProcessingImg2Img(init_images=[init], mask=mask, prompt="a", steps=2,
                                                          width=64, height=64, denoising_strength=0.8,
                                                          inpaint_full_res=False))
    # a grid (three pictures, as A1111), the picture, the mask, the masked composite
    assert len(res.images) == 4 and res.index_of_first_image == 1
    picture = np.asarray(res.images[1]).astype(int)
    assert picture[:32, :32, 0].mean() > picture[:32, :32, 1].mean() + 20  # colours follow the red init image
    assert np.asarray(res.images[2])[:32, :32].min() > 0 and np.asarray(res.images[2])[40:, 40:].max() == 0
