"""Dequantisation of every GGML type a GGUF diffusion model uses, in torch, against the ``gguf`` package's numpy
reference (``gguf.quants.dequantize``): the types it can quantise are quantised from random values; the K-quants,
which it only reads, are random blocks of bytes (every bit pattern of the packed values and scales) with finite
fp16 block scales."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType as T
from gguf import quants

from modules.models import gguf_quants

QUANTISABLE = [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.F16, T.BF16, T.F32]
K_QUANTS = [T.Q4_K, T.Q5_K, T.Q6_K]


def _torch_dequant(raw: np.ndarray, qtype: T, shape: tuple[int, ...]) -> np.ndarray:
    return gguf_quants.dequantize(torch.from_numpy(raw.view(np.uint8).copy()), int(qtype), shape).numpy()


@pytest.mark.parametrize("qtype", QUANTISABLE, ids=lambda t: t.name)
def test_quantised_random_values_dequantise_as_the_gguf_package_does(qtype):
    values = np.random.default_rng(int(qtype)).standard_normal((6, 512)).astype(np.float32) * 3
    packed = quants.quantize(values, qtype)
    expected = quants.dequantize(packed, qtype)
    got = _torch_dequant(packed, qtype, values.shape)
    np.testing.assert_array_equal(got, expected)
    if qtype not in (T.F32,):
        assert not np.array_equal(got, values)  # the test sees a real quantisation, not a copy


@pytest.mark.parametrize("qtype", K_QUANTS, ids=lambda t: t.name)
def test_k_quant_blocks_dequantise_as_the_gguf_package_does(qtype):
    rng = np.random.default_rng(int(qtype))
    block_values, block_bytes = gguf_quants.BLOCKS[int(qtype)]
    raw = rng.integers(0, 256, (4, 1024 // block_values * block_bytes), dtype=np.uint8)
    blocks = raw.reshape(-1, block_bytes)
    scale_at = [208] if qtype == T.Q6_K else [0, 2]  # Q6_K: d last; Q4_K/Q5_K: d and dmin first
    for at in scale_at:
        scales = rng.uniform(1e-3, 1e-2, len(blocks)).astype(np.float16)
        blocks[:, at:at + 2] = scales.view(np.uint8).reshape(-1, 2)
    expected = quants.dequantize(raw, qtype)
    assert expected.shape == (4, 1024) and np.abs(expected).max() > 0
    np.testing.assert_allclose(_torch_dequant(raw, qtype, (4, 1024)), expected, rtol=1e-6, atol=1e-7)


def test_a_wrong_size_or_an_unknown_type_is_a_clear_error():
    with pytest.raises(ValueError, match="does not hold a tensor of shape"):
        gguf_quants.dequantize(torch.zeros(33, dtype=torch.uint8), gguf_quants.Q8_0, (32,))
    with pytest.raises(ValueError, match="not supported"):
        gguf_quants.dequantize(torch.zeros(32, dtype=torch.uint8), 16, (32,))  # IQ2_XXS
