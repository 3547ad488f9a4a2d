"""Attention strategies agree with each other and are injected, not patched."""
from __future__ import annotations

import pytest
import torch

from modules.models.attention import SdpaAttention, SplitAttention, make_attention, set_attention
from modules.models.config_registry import build_from_config
from modules.models.nets.transformer import CrossAttention
from modules.models.tiny_factory import tiny_config


@pytest.mark.parametrize("causal", [False, True])
def test_split_equals_sdpa(causal):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 37, 4 * 8) for _ in range(3))
    want = SdpaAttention()(q, k, v, 4, causal=causal)
    got = SplitAttention(query_chunk=7)(q, k, v, 4, causal=causal)
    assert torch.allclose(got, want, atol=1e-5)


def test_cross_attention_context_length_differs_from_query():
    torch.manual_seed(0)
    q, k, v = torch.randn(1, 10, 16), torch.randn(1, 77, 16), torch.randn(1, 77, 16)
    assert torch.allclose(SplitAttention(3)(q, k, v, 2), SdpaAttention()(q, k, v, 2), atol=1e-5)


def test_upcast_returns_input_dtype():
    q = torch.randn(1, 5, 8, dtype=torch.bfloat16)
    assert SdpaAttention(upcast=True)(q, q, q, 2).dtype == torch.bfloat16


def test_set_attention_reaches_every_layer_and_leaves_classes_alone():
    model = build_from_config(tiny_config("sdxl"), "tiny")
    forward_before = CrossAttention.forward
    strategy = make_attention("split", query_chunk=16)
    count = set_attention(model, strategy)
    layers = [m for m in model.modules() if getattr(m, "uses_attention_strategy", False)]
    assert count == len(layers) > 0
    assert all(m.attention is strategy for m in layers)
    assert CrossAttention.forward is forward_before
    with pytest.raises(ValueError, match="unknown attention strategy"):
        make_attention("xformers-maybe")
