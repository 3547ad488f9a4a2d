"""Emphasis "Original" never turns a zero-mean ``z`` into NaN, and equals A1111's formula wherever that is finite."""
from __future__ import annotations

import torch

from modules.prompting.emphasis import apply_emphasis


def a1111_original(z: torch.Tensor, multipliers: torch.Tensor) -> torch.Tensor:
    """A1111's unguarded formula, the reference for finite cases."""
    original_mean = z.mean()
    z = z * multipliers.reshape(multipliers.shape + (1,)).expand(z.shape)
    return z * (original_mean / z.mean())


def zero_mean_z() -> torch.Tensor:
    z = torch.randn(2, 77, 768, generator=torch.Generator().manual_seed(0))
    z = z - z.mean()
    z[0, 0, 0] -= z.mean() * z.numel()  # whatever rounding left, put it back on one element
    while z.mean().item() != 0.0:
        z[0, 0, 0] -= z.mean()
    return z


def test_zero_mean_with_unit_weights_stays_finite_and_unchanged():
    z = zero_mean_z()
    assert z.mean().item() == 0.0
    ones = torch.ones(2, 77)
    assert torch.isnan(a1111_original(z, ones)).all(), "the reference case must be the 0/0 one"
    out = apply_emphasis("Original", z, ones.tolist())
    assert torch.isfinite(out).all()
    assert torch.equal(out, z)


def test_zero_mean_with_weights_keeps_the_weighted_z():
    z = zero_mean_z()
    weights = torch.ones(2, 77)
    weights[:, 3:6] = 1.1
    out = apply_emphasis("Original", z, weights.tolist())
    assert torch.isfinite(out).all()
    new_mean = (z * weights[..., None]).mean()
    if new_mean.item() != 0.0:  # A1111's quotient is 0/x = 0 here: finite, so the same numbers
        assert torch.equal(out, a1111_original(z, weights))


def test_finite_cases_equal_a1111_bit_for_bit():
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        z = torch.randn(1, 77, 64, generator=gen) + 0.3
        weights = 1 + torch.rand(1, 77, generator=gen)
        expected = a1111_original(z, weights)
        assert torch.isfinite(expected).all()
        assert torch.equal(apply_emphasis("Original", z, weights.tolist()), expected)


def test_fp16_zero_mean_stays_finite():
    z = torch.zeros(1, 77, 16, dtype=torch.float16)
    out = apply_emphasis("Original", z, [[1.2] * 77])
    assert torch.isfinite(out).all()
