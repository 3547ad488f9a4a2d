"""Dequantisation of GGML block formats in torch (the tensor types of city96's GGUF diffusion-model files).

Each quantised tensor is stored as rows of bytes: a row of ``n`` values is ``n / block_size`` blocks of
``type_size`` bytes (llama.cpp's ``ggml-quants.c`` layouts, little-endian).  The functions here take those
bytes as a ``uint8`` tensor on any device and return float32 values, so a layer can keep its weight
quantised and expand it only for the one matmul or convolution that needs it
(:mod:`modules.models.gguf_layers`).  The ``gguf`` package's numpy ``gguf.quants.dequantize`` is the reference
the tests compare against.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

# GGMLQuantizationType numbers (ggml.h); kept here so dequantising needs no import of the gguf package
F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 = 0, 1, 2, 3, 6, 7, 8
Q4_K, Q5_K, Q6_K, BF16 = 12, 13, 14, 30

QK_K = 256
"""Values in one super-block of the K-quants."""

BLOCKS: dict[int, tuple[int, int]] = {
    F32: (1, 4), F16: (1, 2), BF16: (1, 2),
    Q4_0: (32, 18), Q4_1: (32, 20), Q5_0: (32, 22), Q5_1: (32, 24), Q8_0: (32, 34),
    Q4_K: (QK_K, 144), Q5_K: (QK_K, 176), Q6_K: (QK_K, 210),
}
"""type -> (values per block, bytes per block)."""

TYPE_NAMES = {F32: "F32", F16: "F16", BF16: "BF16", Q4_0: "Q4_0", Q4_1: "Q4_1", Q5_0: "Q5_0", Q5_1: "Q5_1",
              Q8_0: "Q8_0", Q4_K: "Q4_K", Q5_K: "Q5_K", Q6_K: "Q6_K"}


def _f16(raw: torch.Tensor) -> torch.Tensor:
    """Little-endian fp16 numbers from ``(..., 2k)`` bytes, as float32 ``(..., k)``."""
    return raw.contiguous().view(torch.float16).float()


def _nibbles(qs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return qs & 0x0F, qs >> 4


def _high_bits(qh: torch.Tensor, count: int) -> torch.Tensor:
    """Bit ``j`` of the little-endian 32-bit words ``qh`` (``(blocks, 4)`` bytes) for ``j < count``."""
    shifts = torch.arange(8, device=qh.device, dtype=torch.uint8)
    bits = (qh.unsqueeze(-1) >> shifts) & 1  # (blocks, 4 bytes, 8 bits): byte b, bit s is bit 8b+s
    return bits.reshape(qh.shape[0], 32)[:, :count]


def _q8_0(blocks: torch.Tensor) -> torch.Tensor:
    d = _f16(blocks[:, :2])
    return d * blocks[:, 2:].contiguous().view(torch.int8).float()


def _q4_0(blocks: torch.Tensor) -> torch.Tensor:
    d = _f16(blocks[:, :2])
    low, high = _nibbles(blocks[:, 2:])
    return d * (torch.cat([low, high], dim=1).float() - 8)


def _q4_1(blocks: torch.Tensor) -> torch.Tensor:
    d, m = _f16(blocks[:, :2]), _f16(blocks[:, 2:4])
    low, high = _nibbles(blocks[:, 4:])
    return d * torch.cat([low, high], dim=1).float() + m


def _five_bit(qh: torch.Tensor, qs: torch.Tensor) -> torch.Tensor:
    bits = _high_bits(qh, 32)
    low, high = _nibbles(qs)
    return torch.cat([low | (bits[:, :16] << 4), high | (bits[:, 16:] << 4)], dim=1).float()


def _q5_0(blocks: torch.Tensor) -> torch.Tensor:
    d = _f16(blocks[:, :2])
    return d * (_five_bit(blocks[:, 2:6], blocks[:, 6:]) - 16)


def _q5_1(blocks: torch.Tensor) -> torch.Tensor:
    d, m = _f16(blocks[:, :2]), _f16(blocks[:, 2:4])
    return d * _five_bit(blocks[:, 4:8], blocks[:, 8:]) + m


def _k_scales(scales: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8 six-bit scales and mins packed in 12 bytes (Q4_K, Q5_K; ggml's ``get_scale_min_k4``)."""
    s = scales.to(torch.int32)
    first_sc, first_m = s[:, 0:4] & 63, s[:, 4:8] & 63
    last_sc = (s[:, 8:12] & 0x0F) | ((s[:, 0:4] >> 6) << 4)
    last_m = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return torch.cat([first_sc, last_sc], dim=1).float(), torch.cat([first_m, last_m], dim=1).float()


def _k_sub_blocks(low4: torch.Tensor) -> torch.Tensor:
    """128 bytes of nibbles -> the 256 four-bit values in order: each 32-byte chunk holds two sub-blocks of 32,
    the low nibbles first."""
    chunks = low4.reshape(-1, 4, 32)
    low, high = _nibbles(chunks)
    return torch.stack([low, high], dim=2).reshape(-1, 8, 32)


def _q4_k(blocks: torch.Tensor) -> torch.Tensor:
    d, dmin = _f16(blocks[:, :2]), _f16(blocks[:, 2:4])
    sc, m = _k_scales(blocks[:, 4:16])
    q = _k_sub_blocks(blocks[:, 16:]).float()
    return ((d * sc).unsqueeze(-1) * q - (dmin * m).unsqueeze(-1)).reshape(-1, QK_K)


def _q5_k(blocks: torch.Tensor) -> torch.Tensor:
    d, dmin = _f16(blocks[:, :2]), _f16(blocks[:, 2:4])
    sc, m = _k_scales(blocks[:, 4:16])
    qh = blocks[:, 16:48]
    q = _k_sub_blocks(blocks[:, 48:])
    # bit i of each of the 32 qh bytes is the fifth bit of sub-block i's value at that position
    shifts = torch.arange(8, device=blocks.device, dtype=torch.uint8).view(1, 8, 1)
    fifth = (qh.unsqueeze(1) >> shifts) & 1
    q = (q | (fifth << 4)).float()
    return ((d * sc).unsqueeze(-1) * q - (dmin * m).unsqueeze(-1)).reshape(-1, QK_K)


def _q6_k(blocks: torch.Tensor) -> torch.Tensor:
    ql, qh = blocks[:, :128].reshape(-1, 2, 64), blocks[:, 128:192].reshape(-1, 2, 32)
    scales = blocks[:, 192:208].contiguous().view(torch.int8).float().reshape(-1, 2, 8)
    d = _f16(blocks[:, 208:210])
    # per half of 128 values: four groups of 32 from (low nibbles of ql[0:32], ql[32:64], then the high
    # nibbles), each with two bits of qh at shifts 0, 2, 4, 6
    low = torch.cat([ql[..., :32] & 0x0F, ql[..., 32:] & 0x0F, ql[..., :32] >> 4, ql[..., 32:] >> 4], dim=-1)
    shifts = torch.tensor([0, 2, 4, 6], device=blocks.device, dtype=torch.uint8).repeat_interleave(32)
    high = (qh.repeat(1, 1, 4) >> shifts) & 3
    q = (low | (high << 4)).float() - 32  # (blocks, 2, 128)
    scale = scales.repeat_interleave(16, dim=-1)  # one scale per 16 values
    return (d.unsqueeze(-1) * scale * q).reshape(-1, QK_K)


_DEQUANT: dict[int, Callable[[torch.Tensor], torch.Tensor]] = {
    Q8_0: _q8_0, Q4_0: _q4_0, Q4_1: _q4_1, Q5_0: _q5_0, Q5_1: _q5_1, Q4_K: _q4_k, Q5_K: _q5_k, Q6_K: _q6_k,
}


def is_quantised(qtype: int) -> bool:
    """Whether values of this type are packed blocks (not plain F32/F16/BF16 numbers)."""
    return qtype in _DEQUANT


def dequantize(raw: torch.Tensor, qtype: int, shape: tuple[int, ...]) -> torch.Tensor:
    """The float32 tensor of ``shape`` that the bytes ``raw`` (``uint8``, any shape) of type ``qtype`` hold."""
    if qtype not in BLOCKS:
        raise ValueError(f"GGUF tensor type {qtype} is not supported "
                         f"(supported: {', '.join(TYPE_NAMES.values())})")
    count = 1
    for dim in shape:
        count *= dim
    block_values, block_bytes = BLOCKS[qtype]
    if raw.numel() * block_values != count * block_bytes:
        raise ValueError(f"{TYPE_NAMES[qtype]} data of {raw.numel()} bytes does not hold a tensor of shape {shape}")
    flat = raw.reshape(-1)
    if qtype == F32:
        return flat.view(torch.float32).reshape(shape)
    if qtype == F16:
        return flat.view(torch.float16).float().reshape(shape)
    if qtype == BF16:
        return flat.view(torch.bfloat16).float().reshape(shape)
    return _DEQUANT[qtype](flat.reshape(-1, block_bytes)).reshape(shape)
