"""Degenerate inputs on the processing path (issue 13): the variation-seed slerp of parallel, opposite and all-zero
noise, colour correction of constant pictures, and the inpainting masks of an empty or one-pixel mask.

Guards give finite numbers where A1111's formula does not, and A1111's own numbers everywhere else.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from modules.processing import color_correction, masking
from modules.processing.conditioning_images import mask_to_tensor
from modules.processing.rng import ImageRNG, slerp


def slerp_a1111(val, low, high):
    """A1111's slerp as written, for the numbers the guarded one must keep."""
    low_norm = low / torch.norm(low, dim=1, keepdim=True)
    high_norm = high / torch.norm(high, dim=1, keepdim=True)
    dot = (low_norm * high_norm).sum(1)
    if dot.mean() > 0.9995:
        return low * val + high * (1 - val)
    omega = torch.acos(dot)
    so = torch.sin(omega)
    return (torch.sin((1.0 - val) * omega) / so).unsqueeze(1) * low + (torch.sin(val * omega) / so).unsqueeze(1) * high


def noise(seed, shape=(4, 16, 16)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("val", [0.0, 0.3, 1.0])
def test_slerp_unchanged_on_regular_noise(val):
    low, high = noise(1), noise(2)
    assert torch.equal(slerp(val, low, high), slerp_a1111(val, low, high))


def test_slerp_of_identical_noise_takes_a1111s_linear_branch():
    low = noise(1)
    assert torch.equal(slerp(0.3, low, low.clone()), slerp_a1111(0.3, low, low.clone()))


def test_slerp_with_some_parallel_columns():
    """Half the columns equal (their dot is 1: omega 0, weights 0 / 0), the mean still below A1111's threshold: the
    parallel columns get the linear limit, the others A1111's numbers."""
    low, high = noise(1), noise(2)
    high[:, :, :6] = low[:, :, :6]
    expected = slerp_a1111(0.3, low, high)
    got = slerp(0.3, low, high)
    assert torch.isfinite(got).all()
    assert not torch.isfinite(expected).all()  # A1111: NaN, or a dot rounded past 1 and acos NaN
    parallel = ~torch.isfinite(expected).all(dim=(0, 1))
    assert parallel.any()
    assert torch.allclose(got[:, :, parallel], low[:, :, parallel], atol=1e-5)  # (1 - v) low + v low
    assert torch.equal(got[:, :, ~parallel], expected[:, :, ~parallel])


def test_slerp_of_opposite_noise_keeps_a1111s_numbers():
    low = noise(1)
    expected = slerp_a1111(0.3, low, -low)
    got = slerp(0.3, low, -low)
    assert torch.isfinite(got).all()
    finite = torch.isfinite(expected)
    assert torch.equal(got[finite], expected[finite])


def test_slerp_with_an_all_zero_column():
    low, high = noise(1), noise(2)
    low[:, :, 3] = 0  # no direction: taken as orthogonal, contributing nothing
    got = slerp(0.4, low, high)
    expected = slerp_a1111(0.4, low, high)
    assert torch.isfinite(got).all() and not torch.isfinite(expected).all()
    assert torch.allclose(got[:, :, 3], high[:, :, 3] * np.sin(0.4 * np.pi / 2), atol=1e-6)
    others = [c for c in range(16) if c != 3]
    assert torch.equal(got[:, :, others], expected[:, :, others])


def test_variation_seed_equal_to_the_seed():
    """Subseed == seed: the two noises are the same; A1111 takes its linear branch and gives the noise back."""
    rng = ImageRNG((4, 8, 8), [5], subseeds=[5], subseed_strength=0.5)
    plain = ImageRNG((4, 8, 8), [5])
    assert torch.allclose(rng.first(), plain.first())


# --- colour correction ---------------------------------------------------------------------------------------

def test_colour_correction_of_constant_pictures():
    grey = Image.new("RGB", (16, 16), (128, 128, 128))
    black = Image.new("RGB", (16, 16), (0, 0, 0))
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8))
    for reference, image in [(grey, black), (black, grey), (black, black), (grey, picture), (picture, grey)]:
        out = color_correction.apply_color_correction(color_correction.setup_color_correction(reference), image)
        assert out.size == image.size
        lab = color_correction.rgb_to_lab(np.asarray(out))
        assert np.isfinite(lab).all()
    # a constant reference maps every colour onto its own: the result keeps only the picture's lightness
    out = color_correction.apply_color_correction(color_correction.setup_color_correction(grey), picture)
    lab = color_correction.rgb_to_lab(np.asarray(out))
    assert np.abs(lab[..., 1:]).max() < 3


def test_histogram_match_of_one_value():
    source = np.full((4, 4), 7.0)
    assert np.array_equal(color_correction.match_histogram(source, np.full((3, 3), 2.0)), np.full((4, 4), 2.0))
    assert np.isfinite(color_correction.match_histogram(np.arange(16.0).reshape(4, 4), np.zeros((2, 2)))).all()


# --- masks -----------------------------------------------------------------------------------------------------

def test_empty_mask():
    empty = Image.new("L", (32, 24), 0)
    assert np.asarray(masking.blur_mask(empty, 4, 4)).max() == 0
    assert masking.get_crop_region(empty, 8) is None  # "only masked" falls back to the whole picture
    assert torch.equal(mask_to_tensor(empty), torch.zeros(1, 1, 24, 32))


def test_one_pixel_mask_crop_region():
    mask = Image.new("L", (64, 48), 0)
    mask.putpixel((10, 5), 255)
    region = masking.get_crop_region(mask, 0)
    assert region == (10, 5, 11, 6)
    x1, y1, x2, y2 = masking.expand_crop_region(region, 512, 256, 64, 48)
    assert x2 > x1 and y2 > y1 and 0 <= x1 and x2 <= 64 and 0 <= y1 and y2 <= 48
    assert (x2 - x1) == 2 * (y2 - y1)  # the processing aspect ratio


def test_full_mask_blur_stays_full():
    full = Image.new("L", (16, 16), 255)
    assert np.asarray(masking.blur_mask(full, 1, 7)).min() == 255


# --- img2img alternative test's noise search -------------------------------------------------------------------

class _IdentityModel:
    """An eps network that predicts no noise at all: the reverse Euler search then leaves the latent unchanged."""

    parameterization = "eps"

    def __init__(self) -> None:
        betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0).float()

    def apply_model(self, x, t, cond=None):
        return torch.zeros_like(x)


def test_noise_search_of_a_constant_latent():
    """The found noise is normalised by its std; a latent whose std is exactly 0 comes back as it is instead of
    0 / 0. (A constant 0.7 has a rounding-sized std, not 0: A1111's finite, if huge, quotient is kept.)"""
    from modules.builtin_scripts.find_noise import find_noise_for_image

    cond = torch.zeros(1, 77, 8)
    zero = torch.zeros(1, 4, 8, 8)
    assert torch.equal(find_noise_for_image(_IdentityModel(), zero, cond, cond, 1.0, 5), zero)
    for latent in (torch.full((1, 4, 8, 8), 0.7), torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))):
        noise = find_noise_for_image(_IdentityModel(), latent, cond, cond, 1.0, 5)
        assert torch.equal(noise, latent / latent.std())  # A1111's normalisation
