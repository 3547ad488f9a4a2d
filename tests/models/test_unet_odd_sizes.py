"""Every latent size works in the UNet: an upsampled tensor one pixel larger than its skip is resized to it (A1111)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from modules.models.nets.unet import UNetModel, concat_skip


@pytest.fixture(scope="module")
def four_level_unet() -> UNetModel:
    """SD's shape in miniature: four levels, three downsamplings, attention at the first two."""
    torch.manual_seed(0)
    return UNetModel(in_channels=4, out_channels=4, model_channels=32, num_res_blocks=1,
                     attention_resolutions=[1, 2], channel_mult=(1, 1, 1, 1), num_head_channels=16,
                     context_dim=16).eval()


def halvings(side: int, times: int = 3) -> list[int]:
    """The sides a stride-2 padded convolution makes, the way the UNet's Downsample does."""
    sides = [side]
    for _ in range(times):
        sides.append((sides[-1] + 1) // 2)
    return sides


# latent sides 1..17 cover every parity pattern of three halvings (e.g. 12 -> 6 -> 3 -> 2, 9 -> 5 -> 3 -> 2)
ODD_SIDES = [s for s in range(1, 18) if any(x % 2 for x in halvings(s)[:-1])]


def test_the_sweep_covers_sizes_that_go_odd():
    assert 12 in ODD_SIDES and 9 in ODD_SIDES and 75 not in ODD_SIDES  # 96 px: 12 -> 6 -> 3
    assert 8 not in ODD_SIDES and 16 not in ODD_SIDES


@pytest.mark.parametrize("width,height", [(w, (8, 12, 9, 5)[w % 4]) for w in range(1, 18)])
def test_every_latent_size_runs(four_level_unet, width, height):
    x = torch.randn(2, 4, height, width)
    with torch.no_grad():
        out = four_level_unet(x, torch.tensor([500.0, 500.0]), torch.randn(2, 3, 16))
    assert out.shape == x.shape
    assert torch.isfinite(out).all()


def test_matching_sizes_concatenate_unchanged():
    h, skip = torch.randn(1, 3, 4, 6), torch.randn(1, 2, 4, 6)
    assert torch.equal(concat_skip(h, skip), torch.cat([h, skip], 1))


def test_larger_upsampled_tensor_is_resized_nearest_to_the_skip():
    h, skip = torch.arange(16.0).reshape(1, 1, 4, 4), torch.zeros(1, 1, 3, 2)
    joined = concat_skip(h, skip)
    assert joined.shape == (1, 2, 3, 2)
    assert torch.equal(joined[:, :1], F.interpolate(h, size=(3, 2), mode="nearest"))
