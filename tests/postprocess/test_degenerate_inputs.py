"""Degenerate inputs for the upscaler tiling and outpainting's matched noise (issue 13): tiles larger than the
picture, no overlap, overlaps of a whole tile or below 0; black, constant, fully and not at all masked pictures.

Guards give finite numbers where A1111's formula does not, and A1111's own numbers everywhere else.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from modules.builtin_scripts.matched_noise import _spectrum_weight, get_matched_noise
from modules.postprocess import tiling


def tiled_upscale_a1111(img, model, tile_size, tile_overlap, scale):
    """A1111's ``tiled_upscale_2`` averaging as written, for the numbers the guarded one must keep."""
    _, _, h, w = img.shape
    tile_size = min(tile_size, h, w)
    stride = tile_size - tile_overlap
    h_idx = list(range(0, h - tile_size, stride)) + [h - tile_size]
    w_idx = list(range(0, w - tile_size, stride)) + [w - tile_size]
    e = torch.zeros(img.shape[0], img.shape[1], h * scale, w * scale)
    wt = torch.zeros_like(e)
    for hi in h_idx:
        for wi in w_idx:
            out = model(img[..., hi:hi + tile_size, wi:wi + tile_size])
            e[..., hi * scale:(hi + tile_size) * scale, wi * scale:(wi + tile_size) * scale].add_(out)
            wt[..., hi * scale:(hi + tile_size) * scale, wi * scale:(wi + tile_size) * scale].add_(torch.ones_like(out))
    return e.div_(wt)


def _upscale2(x):
    # depends on the tile's own content (its mean), so overlapping tiles give different values to average
    return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest") + x.mean()


@pytest.fixture
def picture():
    return torch.rand(1, 3, 37, 29, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("tile, overlap", [(16, 4), (16, 0), (8, 7), (64, 8), (29, 2)])
def test_tensor_tiling_unchanged(picture, tile, overlap):
    expected = tiled_upscale_a1111(picture, _upscale2, tile, overlap, 2)
    assert torch.equal(tiling.tiled_upscale_tensor(picture, _upscale2, tile_size=tile, tile_overlap=overlap, scale=2),
                       expected)


@pytest.mark.parametrize("overlap", [-5, -16, 16, 40])
def test_tensor_tiling_with_overlaps_out_of_range(picture, overlap):
    """A negative overlap leaves gaps no tile covers (weight 0: A1111 divides 0 by 0); a whole-tile overlap never
    advances (A1111's range() refuses a step of 0, or covers only the last tile)."""
    got = tiling.tiled_upscale_tensor(picture, _upscale2, tile_size=16, tile_overlap=overlap, scale=2)
    assert torch.isfinite(got).all() and got.shape == (1, 3, 74, 58)
    if overlap < 0:  # the guard makes it a zero overlap
        assert torch.equal(got, tiled_upscale_a1111(picture, _upscale2, 16, 0, 2))


def test_identity_tiling_gives_the_picture_back(picture):
    for tile, overlap in [(16, 4), (100, 0), (1, 0), (16, -3)]:
        got = tiling.tiled_upscale_tensor(picture, lambda x: x, tile_size=tile, tile_overlap=overlap, scale=1)
        assert torch.allclose(got, picture, atol=1e-6)


@pytest.mark.parametrize("size, tile, overlap", [((40, 30), 64, 8), ((100, 70), 48, 0), ((100, 70), 48, 48),
                                                 ((65, 65), 64, 1)])
def test_pil_grid_round_trip(size, tile, overlap):
    img = Image.fromarray(np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    grid = tiling.split_grid(img, tile, tile, overlap)
    assert np.array_equal(np.asarray(tiling.combine_grid(grid)), np.asarray(img))


# --- matched noise ---------------------------------------------------------------------------------------------

def _outpaint_inputs(value=None, masked_columns=slice(24, 32)):
    rng = np.random.default_rng(2)
    src = rng.random((32, 32, 3)) if value is None else np.full((32, 32, 3), value)
    mask = np.zeros((32, 32, 3))
    mask[:, masked_columns] = 1.0
    return src, mask


@pytest.mark.parametrize("value", [None, 0.0, 0.5, 1.0])
@pytest.mark.parametrize("columns", [slice(24, 32), slice(0, 32), slice(0, 0)])
@pytest.mark.parametrize("noise_q", [1.0, 0.0, -1.0])
def test_matched_noise_stays_finite(value, columns, noise_q):
    """Black or constant pictures (a zero spectrum away from the centre, a zero peak), a mask over everything
    (no reference pixels) or nothing (no hole), and negative fall-off exponents."""
    src, mask = _outpaint_inputs(value, columns)
    out = get_matched_noise(src, mask, noise_q=noise_q, color_variation=0.05)
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    unmasked = mask.mean(axis=2) == 0
    assert np.array_equal(out[unmasked], np.clip(src[unmasked], 0, 1))  # the known pixels are kept


def test_spectrum_weight():
    magnitude = np.array([0.0, 0.5, 2.0, 1e-300])
    for q in (0.0, 0.5, 1.0, 3.0):
        expected = magnitude ** q
        got = _spectrum_weight(magnitude, q)
        assert np.array_equal(got[1:], expected[1:])
        assert got[0] == 0 and (q == 0 or expected[0] == 0)  # 0 ** 0 = 1 went with a phase of 0
    with np.errstate(divide="ignore"):
        assert np.isinf(magnitude[0] ** -1.0)
    assert np.isfinite(_spectrum_weight(magnitude, -1.0)).all() and _spectrum_weight(magnitude, -1.0)[0] == 0
