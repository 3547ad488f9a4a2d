"""Degenerate inputs in the built-in extensions (issue 13): Soft inpainting's latent blend of all-zero latents and
at detail preservation 0, its composite mask at difference threshold 0 over unchanged latents; Hypertile's tile
grid for narrow pictures and a 0-sized one.

Guards give finite numbers where A1111's formula does not, and A1111's own numbers everywhere else.
"""
from __future__ import annotations

import importlib.util
import os
import random
import sys
import threading

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(name: str, *parts: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "extensions-builtin", *parts))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def si():
    module = _load("soft_inpainting_degenerate", "soft-inpainting", "scripts", "soft_inpainting.py")
    yield module
    sys.modules.pop("soft_inpainting_degenerate", None)


@pytest.fixture(scope="module")
def ht():
    module = _load("hypertile_degenerate", "hypertile", "hypertile.py")
    yield module
    sys.modules.pop("hypertile_degenerate", None)


def settings(si, detail=4.0, threshold=0.5, contrast=2.0, influence=0.0):
    return si.SoftInpaintingSettings(1, 0.5, detail, influence, threshold, contrast)


def latent_blend_a1111(power, a, b, t):
    """A1111's latent_blend as written (for (C, H, W) weights), for the numbers the guarded one must keep."""
    t2, t3 = t.unsqueeze(0), t[0].unsqueeze(0).unsqueeze(0)
    interp = a * (1 - t2) + b * t2
    current = torch.norm(interp, p=2, dim=1, keepdim=True).to(torch.float64).add_(0.00001)
    a_mag = torch.norm(a, p=2, dim=1, keepdim=True).to(torch.float64).pow_(power) * (1 - t3)
    b_mag = torch.norm(b, p=2, dim=1, keepdim=True).to(torch.float64).pow_(power) * t3
    desired = a_mag.add_(b_mag).pow_(1 / power)
    return interp * desired.div_(current).to(interp.dtype)


@pytest.fixture
def latents():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 4, 6, 6, generator=g), torch.randn(1, 4, 6, 6, generator=g)
    t = torch.rand(4, 6, 6, generator=g)
    t[:, 0, :] = 0.0
    t[:, 1, :] = 1.0
    return a, b, t


@pytest.mark.parametrize("power", [1.0, 4.0, 32.0])
def test_latent_blend_unchanged(si, latents, power):
    a, b, t = latents
    got = si.latent_blend(settings(si, detail=power), a.clone(), b.clone(), t)
    assert torch.equal(got, latent_blend_a1111(power, a.clone(), b.clone(), t))


def test_latent_blend_of_zero_latents(si):
    zero = torch.zeros(1, 4, 6, 6)
    t = torch.full((4, 6, 6), 0.5)
    assert torch.equal(si.latent_blend(settings(si), zero, zero, t), zero)
    b = torch.ones(1, 4, 6, 6)
    assert torch.isfinite(si.latent_blend(settings(si), zero, b, t)).all()


def test_latent_blend_at_detail_preservation_zero(si, latents):
    """Exponent 0 (the API takes any number): A1111 computes 1 / 0 and fails the job; the guard takes the power
    mean's limit, the weighted geometric mean of the two lengths."""
    a, b, t = latents
    got = si.latent_blend(settings(si, detail=0), a.clone(), b.clone(), t)
    assert torch.isfinite(got).all()
    length = got.norm(dim=1)
    expected = a.norm(dim=1) ** (1 - t[0]) * b.norm(dim=1) ** t[0]
    torch.testing.assert_close(length, expected.expand_as(length), rtol=1e-4, atol=1e-4)
    with pytest.raises(ZeroDivisionError):  # A1111: settings.inpaint_detail_preservation is a float 0
        latent_blend_a1111(0.0, a.clone(), b.clone(), t)


def test_modified_nmask_at_sigma_zero(si):
    nmask = torch.tensor([0.0, 0.5, 1.0])
    out = si.get_modified_nmask(settings(si), nmask, torch.tensor(0.0))
    assert torch.equal(out, torch.ones(3))  # x ** 0, 0 ** 0 included, is 1


def _adaptive_mask(si, threshold, influence=0.0, nmask_value=1.0):
    size = 24
    orig = torch.zeros(1, 4, size, size)
    processed = orig.clone()
    processed[..., 12:] = 2.0  # the right half changed, the left half exactly the original (as outside a mask)
    nmask = torch.full((4, size, size), nmask_value)
    overlays = [Image.new("RGBA", (size * 8, size * 8), (10, 20, 30, 255))]
    masks = si.apply_adaptive_masks(settings(si, threshold=threshold, influence=influence), nmask, orig, processed,
                                    overlays, size * 8, size * 8, None)
    return np.asarray(masks[0].convert("L"))


@pytest.mark.parametrize("influence, nmask_value", [(0.0, 1.0), (1.0, 1.0)])
def test_composite_mask_with_nothing_to_divide_by(si, influence, nmask_value):
    """Difference threshold 0 (or a fully masked pixel at mask influence 1) makes the half-distance 0: a change is
    an infinite ratio (generated pixels), no change 0 / 0, read as no change (the original kept; A1111's NaN
    becomes 0 when cast to uint8 on x86)."""
    threshold = 0.0 if influence == 0 else 0.5
    mask = _adaptive_mask(si, threshold, influence, nmask_value)
    assert mask[:, :48].max() == 0  # unchanged: original
    assert mask[:, -48:].min() == 255  # changed: generated


def test_composite_mask_unchanged_for_a_regular_threshold(si):
    """The ratio, its contrast curve and smootherstep as A1111 (the mask at one pixel checked by hand)."""
    mask = _adaptive_mask(si, 0.5)
    # far from the change: distance 0 -> ratio 0 -> 1 / (1 + 0) = 1 -> smootherstep 1 -> mask 0
    assert mask[:, :48].max() == 0
    assert mask[:, -48:].min() >= 250  # distance 4 / (0.5 * 0.5 / 0.50001) = 8 -> 1 / 65 -> mask near 1


# --- hypertile -------------------------------------------------------------------------------------------------

def test_hw_candidates_of_a_very_narrow_grid(ht):
    """A 1-token-wide picture: A1111 rounds sqrt(hw * aspect) to 0 and divides by it."""
    h, w = ht.find_hw_candidates(32, 1 / 256)
    assert (h, w) == (1, 32)
    h, w = ht.find_hw_candidates(1, 0.2)
    assert h * w == 1


@pytest.mark.parametrize("hw, aspect", [(4096, 1.0), (64 * 96, 1.5), (32 * 128, 0.25), (17 * 3, 3 / 17), (7, 7.0),
                                        (60, 1.1)])
def test_hw_candidates_unchanged(ht, hw, aspect):
    """A1111's function as written, wherever it does not divide by 0."""
    h, w = round(np.sqrt(hw * aspect)), round(np.sqrt(hw / aspect))
    if h * w != hw:
        w_candidate = hw / h
        if w_candidate.is_integer():
            w = int(w_candidate)
        else:
            h_candidate = hw / w
            h, w = (int(h_candidate), w) if h_candidate.is_integer() else ht.iterative_closest_divisors(hw, aspect)
    assert ht.find_hw_candidates(hw, aspect) == (h, w)


def test_tile_sizes_for_tiny_and_empty_pictures(ht):
    answer = []
    worker = threading.Thread(target=lambda: answer.append(ht.largest_tile_size_available(0, 0)), daemon=True)
    worker.start()
    worker.join(10)  # A1111 loops for ever: every power of two divides 0
    assert answer == [1]
    assert ht.largest_tile_size_available(8, 8) == 8
    assert ht.largest_tile_size_available(64, 0) == 64
    assert ht.random_divisor(1, 16, 1, random.Random(0)) == 1  # a 1-token side: one tile
    assert ht.random_divisor(3, 16, 4, random.Random(0)) == 1


def test_hypertile_on_a_narrow_token_grid(ht):
    """The tiling hook on a 1 x 32 grid (a narrow picture's deepest level) is an exact round trip."""
    layer = torch.nn.Identity()
    params = ht.HypertileParams(depth=3, layer_name="x", tile_size=8, swap_size=2, aspect_ratio=1 / 256,
                                rng=random.Random(0))
    tiler = ht._LayerTiler(params)
    x = torch.randn(2, 32, 5)
    args = tiler.before(layer, (x,))
    inner = layer(*(args if args is not None else (x,)))
    out = tiler.after(layer, (x,), inner)
    assert torch.equal(out if out is not None else inner, x)
