"""Hypernetworks: the A1111 file format against an explicit computation, the attention seam, and
``<hypernet:name:multiplier>`` in real generations (on, off again, multiplier 0)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from modules.models.nets.transformer import CrossAttention, set_context_hook
from modules.networks.hypernetworks.hypernetwork import (
    Hypernetwork,
    HypernetworkContextHook,
    HypernetworkError,
    parse_dropout_structure,
)


def mlp_state(dim: int, seed: int) -> dict[str, torch.Tensor]:
    """Weights for layer structure [1, 2, 2, 1] with relu and a dropout after the first layer:
    Sequential indices 0 Linear, 1 ReLU, 2 Dropout, 3 Linear, 4 ReLU, 5 Linear."""
    g = torch.Generator().manual_seed(seed)
    return {
        "linear.0.weight": torch.randn(2 * dim, dim, generator=g) * 0.2, "linear.0.bias": torch.randn(2 * dim, generator=g) * 0.1,
        "linear.3.weight": torch.randn(2 * dim, 2 * dim, generator=g) * 0.2, "linear.3.bias": torch.randn(2 * dim, generator=g) * 0.1,
        "linear.5.weight": torch.randn(dim, 2 * dim, generator=g) * 0.2, "linear.5.bias": torch.randn(dim, generator=g) * 0.1,
    }


def by_hand(sd: dict[str, torch.Tensor], x: torch.Tensor, multiplier: float) -> torch.Tensor:
    h = F.relu(F.linear(x, sd["linear.0.weight"], sd["linear.0.bias"]))
    h = F.relu(F.linear(h, sd["linear.3.weight"], sd["linear.3.bias"]))
    return x + F.linear(h, sd["linear.5.weight"], sd["linear.5.bias"]) * multiplier


def hypernet_file(dims=(32,), seed: int = 0) -> dict:
    state = {dim: (mlp_state(dim, seed + dim), mlp_state(dim, seed + dim + 1)) for dim in dims}
    state.update({"layer_structure": [1, 2, 2, 1], "activation_func": "relu", "is_layer_norm": False,
                  "use_dropout": True, "last_layer_dropout": False, "activate_output": False, "name": "h",
                  "step": 100, "sd_checkpoint": "abc", "sd_checkpoint_name": "model"})
    return state


def test_file_format_against_explicit_math():
    state = hypernet_file((32, 64))
    net = Hypernetwork().load_state(state, "/x/h.pt")
    assert net.name == "h" and net.step == 100 and sorted(net.layers) == [32, 64]
    assert net.dropout_structure == [0, 0.3, 0, 0]
    net.set_multiplier(0.7)
    x = torch.randn(2, 5, 32)
    k_module, v_module = net.layers[32]
    torch.testing.assert_close(k_module(x), by_hand(state[32][0], x, 0.7))
    torch.testing.assert_close(v_module(x), by_hand(state[32][1], x, 0.7))


def test_dropout_structures_of_old_files():
    assert parse_dropout_structure([1, 2, 1], False, False) == [0, 0, 0]
    assert parse_dropout_structure([1, 2, 2, 1], True, True) == [0, 0.3, 0.3, 0]
    assert parse_dropout_structure([1, 2, 4, 2, 1], True, False) == [0, 0.3, 0.3, 0, 0]


def test_bad_files_are_refused_with_a_reason():
    with pytest.raises(HypernetworkError, match="activation"):
        Hypernetwork().load_state({32: (mlp_state(32, 0), mlp_state(32, 1)), "activation_func": "nope",
                                   "layer_structure": [1, 2, 2, 1], "use_dropout": True})
    with pytest.raises(HypernetworkError, match="do not fit"):
        Hypernetwork().load_state({32: (mlp_state(32, 0), mlp_state(32, 1)), "layer_structure": [1, 2, 1]})


def test_attention_seam_transforms_k_and_v_context_and_comes_off():
    torch.manual_seed(0)
    attn = CrossAttention(16, 32, heads=2, dim_head=8).eval()
    x, context = torch.randn(1, 6, 16), torch.randn(1, 4, 32)
    plain = attn(x, context)
    state = hypernet_file((32,))
    net = Hypernetwork().load_state(state).set_multiplier(1.0)
    assert set_context_hook(attn, HypernetworkContextHook([net])) == 1
    got = attn(x, context)
    k_in, v_in = by_hand(state[32][0], context, 1.0), by_hand(state[32][1], context, 1.0)
    expected = attn.to_out(attn.attention(attn.to_q(x), attn.to_k(k_in), attn.to_v(v_in), attn.heads))
    torch.testing.assert_close(got, expected)
    # self-attention of another width: no pair for it, unchanged
    self_attn = CrossAttention(16, None, heads=2, dim_head=8).eval()
    y = self_attn(x)
    set_context_hook(self_attn, HypernetworkContextHook([net]))
    assert torch.equal(self_attn(x), y)
    set_context_hook(attn, None)
    assert torch.equal(attn(x, context), plain)
    assert "context_hook" not in attn.__dict__ and not any("hook" in k for k in attn.state_dict())


@pytest.fixture
def hypernet_app(app, data_dir, restore_shared):
    from modules.networks.extra_networks import registry
    from modules.networks.hypernetworks.setup import setup_hypernetworks

    folder = data_dir / "models" / "hypernetworks"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(hypernet_file((32, 64), seed=3), folder / "style.pt")
    shared = app()
    setup_hypernetworks()
    yield shared
    registry.unregister("hypernet")
    for name in ("hypernetworks_registry", "hypernetworks", "loaded_hypernetworks"):
        vars(restore_shared).pop(name, None)


def test_hypernet_tag_in_generation(hypernet_app):
    from modules.processing import StableDiffusionProcessingTxt2Img, process_images

    def gen(prompt: str) -> bytes:
        p = StableDiffusionProcessingTxt2Img(prompt=prompt, steps=2, width=64, height=64, seed=5, sampler_name="Euler",
                                             do_not_save_samples=True, do_not_save_grid=True)
        return process_images(p).images[0].tobytes()

    plain = gen("a cat")
    styled = gen("a cat <hypernet:style:1>")
    assert styled != plain
    assert gen("a cat <hypernet:style:0>") == plain
    assert gen("a cat") == plain
    assert gen("a cat <hypernet:style:1>") == styled
    assert gen("a cat <hypernet:missing:1>") == plain
