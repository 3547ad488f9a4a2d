"""Outpainting mk2 and Poor man's outpainting: the canvas grows by the chosen pixels, the original is kept where
A1111 keeps it, and the matched noise follows the picture's colours."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


def _picture(size: int = 64, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.Resampling.NEAREST)


def _p(**kw):
    from modules.processing import StableDiffusionProcessingImg2Img

    args = dict(prompt="a cat", negative_prompt="", steps=2, width=64, height=64, seed=5, sampler_name="Euler",
                init_images=[_picture()], denoising_strength=0.6, do_not_save_samples=True)
    args.update(kw)
    return StableDiffusionProcessingImg2Img(**args)


# --- pure functions -------------------------------------------------------------------------------------------

def test_share_expansion_rounds_to_64_and_splits_in_proportion():
    from modules.builtin_scripts.outpainting import share_expansion

    e = share_expansion(100, 64, 128, ["left", "right"])
    assert (e.left, e.right, e.up, e.down, e.width, e.height) == (142, 142, 0, 0, 384, 64)
    e = share_expansion(64, 64, 128, ["left"])
    assert (e.left, e.right, e.width) == (128, 0, 192)
    e = share_expansion(64, 100, 8, ["up", "down"])
    # 100 + 16 rounds up to 128: 28 new rows, shared 14 / 14
    assert (e.up, e.down, e.height, e.width) == (14, 14, 128, 64)


def test_argument_checks_name_the_problem():
    from modules.builtin_scripts.outpainting import read_directions, read_fill, read_pixels
    from modules.processing.processing_base import GenerationError

    assert read_fill("latent noise", "t") == 2 and read_fill(1, "t") == 1
    assert read_directions("up", "t") == ["up"]
    with pytest.raises(GenerationError, match="sideways"):
        read_directions(["left", "sideways"], "t")
    with pytest.raises(GenerationError, match="masked content"):
        read_fill("blur", "t")
    with pytest.raises(GenerationError, match="pixels to expand"):
        read_pixels("many", "t")


def test_match_histograms_maps_ranks_onto_the_reference():
    from modules.builtin_scripts.matched_noise import match_histograms

    rng = np.random.default_rng(1)
    source = rng.permutation(100)[:, None] / 100.0
    reference = (np.arange(100)[:, None] / 100.0) ** 2
    matched = match_histograms(source, reference)
    # equal sizes and distinct values: each source value takes the reference value of the same rank
    assert np.allclose(np.sort(matched[:, 0]), reference[:, 0])
    assert np.array_equal(np.argsort(matched[:, 0]), np.argsort(source[:, 0]))


def test_matched_noise_follows_the_source_colours():
    from modules.builtin_scripts.matched_noise import get_matched_noise

    rng = np.random.default_rng(2)
    src = np.zeros((48, 64, 3))
    base = np.array([0.8, 0.3, 0.1])
    src[:, :32] = np.clip(base + rng.normal(0, 0.05, (48, 32, 3)), 0, 1)
    mask = np.zeros_like(src)
    mask[:, 32:] = 1.0
    out = get_matched_noise(src.copy(), mask, noise_q=1.0, color_variation=0.05)
    known, filled = src[:, :32].reshape(-1, 3), out[:, 32:].reshape(-1, 3)
    assert np.array_equal(out[:, :32], src[:, :32])  # the kept part is untouched
    assert np.allclose(filled.mean(axis=0), known.mean(axis=0), atol=0.01)
    assert np.allclose(filled.std(axis=0), known.std(axis=0), atol=0.01)
    assert filled.std() > 0.01  # noise, not a flat colour
    # a fixed generator: the same inputs give the same noise
    assert np.array_equal(out, get_matched_noise(src.copy(), mask, noise_q=1.0, color_variation=0.05))
    other = get_matched_noise(src.copy(), mask, noise_q=2.0, color_variation=0.05)
    assert not np.array_equal(out, other)


# --- through the img2img runner -------------------------------------------------------------------------------

def test_outpainting_mk2_left_keeps_the_original_untouched(app, run):
    from modules import scripts

    app()
    init = _picture()
    processed = run(scripts.scripts_img2img, "Outpainting mk2", _p(init_images=[init]), None, 64, 2, ["left"],
                    1.0, 0.05)
    assert [im.size for im in processed.images] == [(128, 64)]
    out = np.asarray(processed.images[0].convert("RGB"))
    # only the 64-pixel strip at the new edge is generated (the job's width); the picture is kept except for a
    # mask-blur-wide margin along the old edge, which gets matched noise as the rest of the new area
    assert np.array_equal(out[:, 66:], np.asarray(init)[:, 2:])
    assert not np.array_equal(out[:, 64:66], np.asarray(init)[:, :2])
    assert out[:, :64].std() > 1  # the new strip is a picture, not the black canvas
    assert "Denoising strength: 0.6" in processed.info


def test_outpainting_mk2_all_directions(app, run):
    from modules import scripts

    shared = app()
    init = _picture()
    p = _p(init_images=[init], width=128, height=128)
    processed = run(scripts.scripts_img2img, "Outpainting mk2", p, None, 32, 1, ["left", "right", "up", "down"],
                    1.0, 0.05)
    assert [im.size for im in processed.images] == [(128, 128)]
    out = np.asarray(processed.images[0].convert("RGB")).astype(int)
    # the centre stays the original: mask blur 4 px a side, so the overlay keeps it a little inside the border
    blur_reach = 4 + 10
    inner = out[32 + blur_reach:96 - blur_reach, 32 + blur_reach:96 - blur_reach]
    original = np.asarray(init).astype(int)[blur_reach:64 - blur_reach, blur_reach:64 - blur_reach]
    assert np.abs(inner - original).max() <= 1
    assert "Mask blur: 4" in processed.info
    assert shared.state.job_count == 4  # one job per direction


def test_outpainting_mk2_batch_gives_grid_and_pictures(app, run):
    from modules import scripts

    app()
    p = _p(batch_size=2)
    processed = run(scripts.scripts_img2img, "Outpainting mk2", p, None, 64, 2, ["down"], 1.0, 0.05)
    # the grid of both pictures first, then each one grown downwards
    assert [im.size for im in processed.images] == [(128, 128), (64, 128), (64, 128)]


def test_poor_mans_outpainting_keeps_the_original(app, run):
    from modules import scripts

    app()
    init = _picture()
    processed = run(scripts.scripts_img2img, "Poor man's outpainting", _p(init_images=[init]), 32, 0, 0,
                    ["left", "right", "up", "down"])
    assert [im.size for im in processed.images] == [(128, 128)]
    out = np.asarray(processed.images[0].convert("RGB"))
    # no mask blur: the whole original is kept exactly, the border around it is inpainted
    assert np.array_equal(out[32:96, 32:96], np.asarray(init))
    assert out[:32].std() > 1 and out[96:].std() > 1
    assert "Masked content: fill" in processed.info


def test_poor_mans_outpainting_one_side(app, run):
    from modules import scripts

    app()
    init = _picture()
    processed = run(scripts.scripts_img2img, "Poor man's outpainting", _p(init_images=[init]), 64, 4, "original",
                    ["right"])
    assert [im.size for im in processed.images] == [(128, 64)]
    out = np.asarray(processed.images[0].convert("RGB"))
    assert np.array_equal(out[:, :32], np.asarray(init)[:, :32])
    assert "Mask blur: 8" in processed.info


def test_bad_direction_is_a_clear_error(app, run):
    from modules import scripts
    from modules.processing.processing_base import GenerationError

    app()
    with pytest.raises(GenerationError, match="diagonal"):
        run(scripts.scripts_img2img, "Outpainting mk2", _p(), None, 64, 2, ["diagonal"], 1.0, 0.05)
    with pytest.raises(GenerationError, match="at least one"):
        run(scripts.scripts_img2img, "Outpainting mk2", _p(), None, 64, 2, [], 1.0, 0.05)
