"""Attention strategies give the same numbers; the setting and flags choose one; xformers falls back clearly."""
from __future__ import annotations

import argparse

import pytest
import torch

from modules.core.cmd_args import build_parser
from modules.models.attention import SdpaAttention, SplitAttention, SubQuadraticAttention
from modules.models.attention_choice import choose_attention


@pytest.mark.parametrize("causal", [False, True])
def test_strategies_agree(causal):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 37 if causal else 50, 64, generator=g) for _ in range(3))
    if causal:
        k, v = k[:, :37], v[:, :37]
    reference = SdpaAttention()(q, k, v, heads=4, causal=causal)
    for strategy in (SplitAttention(query_chunk=7), SubQuadraticAttention(query_chunk=9, kv_chunk=5),
                     SplitAttention(query_chunk=1 << 30)):
        assert torch.allclose(strategy(q, k, v, heads=4, causal=causal), reference, atol=1e-5)


def flags(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("argv,setting,expected", [
    ([], "Automatic", SdpaAttention), (["--opt-sub-quad-attention"], "Automatic", SubQuadraticAttention),
    (["--opt-split-attention"], "Automatic", SplitAttention), (["--opt-split-attention"], "sdp", SdpaAttention),
    ([], "sub-quadratic", SubQuadraticAttention), ([], "Doggettx", SplitAttention), ([], "None", SplitAttention),
])
def test_setting_and_flags_choose(argv, setting, expected):
    strategy, warning = choose_attention(flags(*argv), setting, "cpu")
    assert isinstance(strategy, expected) and warning is None


def test_xformers_on_cpu_warns_and_uses_sdp(capsys):
    strategy, warning = choose_attention(flags("--xformers"), "Automatic", "cpu")
    assert isinstance(strategy, SdpaAttention)
    assert "xformers" in warning and "xformers" in capsys.readouterr().out


def test_live_model_gets_the_chosen_strategy(app):
    shared = app("sd1", "--opt-sub-quad-attention")
    assert isinstance(shared.sd_model.attention_strategy, SubQuadraticAttention)
    from modules.processing import StableDiffusionProcessingTxt2Img, process_images

    def image():
        p = StableDiffusionProcessingTxt2Img(prompt="a cat", steps=2, width=64, height=64, seed=1)
        return torch.tensor(list(process_images(p).images[0].getdata())).float()

    quad = image()
    shared.opts.set("cross_attention_optimization", "sdp")
    assert isinstance(shared.sd_model.attention_strategy, SdpaAttention)
    assert (image() - quad).abs().max() <= 2
