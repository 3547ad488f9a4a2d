"""Loopback and SD upscale run on the img2img tab and give pictures of the right size."""
from __future__ import annotations

from PIL import Image


def _p(**kw):
    from modules.processing import StableDiffusionProcessingImg2Img

    args = dict(prompt="a cat", negative_prompt="", steps=2, width=64, height=64, seed=5, sampler_name="Euler",
                init_images=[Image.new("RGB", (64, 64), (200, 40, 40))], denoising_strength=0.5,
                do_not_save_samples=True)
    args.update(kw)
    return StableDiffusionProcessingImg2Img(**args)


def test_loopback_curve():
    import importlib.util

    spec = importlib.util.spec_from_file_location("lb", "scripts/loopback.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.denoising_strength_at(3, 4, 0.75, 0.5, "Linear") == 0.5
    assert module.denoising_strength_at(0, 4, 0.75, 0.5, "Lazy") == 0.75
    assert module.denoising_strength_at(1, 1, 0.75, 0.5, "Aggressive") == 0.75


def test_loopback_runs_and_reports(app, run):
    from modules import scripts

    app()
    processed = run(scripts.scripts_img2img, "Loopback", _p(), 2, 0.3, "Linear", "None")
    # the grid of both loops, then each loop's picture
    assert [im.size for im in processed.images] == [(128, 64), (64, 64), (64, 64)]
    assert processed.seed == 5
    assert "Final denoising strength: 0.3, Denoising curve: Linear" in processed.info


def test_sd_upscale_doubles_the_size(app, run):
    from modules import scripts

    shared = app()
    names = [x.name for x in shared.sd_upscalers]
    processed = run(scripts.scripts_img2img, "SD upscale", _p(), None, 16, names.index("Lanczos"), 2.0)
    assert [im.size for im in processed.images] == [(128, 128)]
    assert "SD upscale overlap: 16, SD upscale upscaler: Lanczos" in processed.info
