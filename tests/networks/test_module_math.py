"""Each network type's delta against the lycoris-lora package's own math on the same tensors
(LoHa, LoKr, (IA)^3, full, GLoRA, DoRA, OFT), and against the papers' formulas where A1111 differs."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from modules.networks.lora.module_types import make_module, module_kind

lycoris_modules = pytest.importorskip("lycoris.modules")

RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture(autouse=True)
def no_grad():
    # lycoris fills its parameters in place, which autograd refuses outside no_grad
    with torch.no_grad():
        yield


def layer(kind: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Linear(12, 8) if kind == "linear" else nn.Conv2d(6, 8, 3, padding=1)


def rand(*shape, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 0.3


def ours(parts: dict[str, torch.Tensor], weight: torch.Tensor, multiplier: float = 1.0) -> torch.Tensor:
    module = make_module(parts)
    assert module is not None
    return module.weight_delta(weight.float().clone(), multiplier)


def lycoris_diff(ref: nn.Module, base: nn.Module, multiplier: float) -> torch.Tensor:
    # the change lycoris' own forward adds (get_weight x multiplier); its get_diff_weight applies
    # the alpha/rank scale a second time in lycoris-lora 4.1.3, which no trainer's files expect
    return ref.get_weight(base.weight.shape) * ref.scalar * multiplier


def flat_in(module: nn.Module) -> int:
    return module.weight[0].numel()


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("multiplier", [1.0, 0.6])
def test_loha_matches_lycoris(kind, multiplier):
    base = layer(kind)
    out, rank = base.weight.shape[0], 3
    w1a, w1b = rand(out, rank, seed=1), rand(rank, flat_in(base), seed=2)
    w2a, w2b = rand(out, rank, seed=3), rand(rank, flat_in(base), seed=4)
    alpha = torch.tensor(2.0)
    ref = lycoris_modules.LohaModule.make_module_from_state_dict(
        "x", base, w1a, w1b, w2a, w2b, None, None, alpha, None)
    expected = lycoris_diff(ref, base, multiplier)
    parts = {"hada_w1_a": w1a, "hada_w1_b": w1b, "hada_w2_a": w2a, "hada_w2_b": w2b, "alpha": alpha}
    assert module_kind(parts) == "loha"
    torch.testing.assert_close(ours(parts, base.weight, multiplier), expected, rtol=RTOL, atol=ATOL)


def test_loha_tucker_matches_lycoris():
    base = layer("conv")
    out, inp, rank = 8, 6, 3
    t1, t2 = rand(rank, rank, 3, 3, seed=5), rand(rank, rank, 3, 3, seed=6)
    w1a, w1b, w2a, w2b = rand(rank, out, seed=1), rand(rank, inp, seed=2), rand(rank, out, seed=3), rand(rank, inp, seed=4)
    alpha = torch.tensor(1.5)
    ref = lycoris_modules.LohaModule.make_module_from_state_dict("x", base, w1a, w1b, w2a, w2b, t1, t2, alpha, None)
    expected = lycoris_diff(ref, base, 1.0)
    parts = {"hada_w1_a": w1a, "hada_w1_b": w1b, "hada_w2_a": w2a, "hada_w2_b": w2b, "hada_t1": t1, "hada_t2": t2,
             "alpha": alpha}
    torch.testing.assert_close(ours(parts, base.weight), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("decompose", ["w1", "w2", "both", "none"])
def test_lokr_matches_lycoris(kind, decompose):
    from lycoris.functional import lokr

    base = layer(kind)
    out, inp = base.weight.shape[:2]
    k = tuple(base.weight.shape[2:])
    rank = 2
    # factors: w1 is 2 x 2, w2 is out/2 x in/2 (x k x k)
    w1, w1a, w1b = rand(2, 2, seed=1), rand(2, rank, seed=2), rand(rank, 2, seed=3)
    w2, w2a, w2b = rand(out // 2, inp // 2, *k, seed=4), rand(out // 2, rank, seed=5), rand(rank, inp // 2, *k, seed=6)
    alpha = torch.tensor(3.0)
    full1, full2 = decompose in ("w2", "none"), decompose in ("w1", "none")
    factors = dict(lokr_w1=w1 if full1 else None, lokr_w1_a=None if full1 else w1a, lokr_w1_b=None if full1 else w1b,
                   lokr_w2=w2 if full2 else None, lokr_w2_a=None if full2 else w2a, lokr_w2_b=None if full2 else w2b)
    expected = lokr.diff_weight(*factors.values(), None, gamma=alpha).reshape(base.weight.shape)
    parts = {name: t for name, t in factors.items() if t is not None}
    parts["alpha"] = alpha
    assert module_kind(parts) == "lokr", sorted(parts)
    torch.testing.assert_close(ours(parts, base.weight), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("on_input", [False, True])
def test_ia3_matches_lycoris(on_input):
    base = layer("linear")
    scale = rand(12 if on_input else 8, seed=1)
    ref = lycoris_modules.IA3Module("x", base, 1, train_on_input=on_input)
    ref.weight.data.copy_(scale.reshape(ref.weight.shape))
    expected = ref.get_diff_weight(1.0)[0].reshape(base.weight.shape)
    parts = {"weight": scale, "on_input": torch.tensor(on_input)}
    assert module_kind(parts) == "ia3"
    torch.testing.assert_close(ours(parts, base.weight), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_full_matches_lycoris(kind):
    base = layer(kind)
    diff, diff_b = rand(*base.weight.shape, seed=1), rand(8, seed=2)
    ref = lycoris_modules.FullModule.make_module_from_state_dict("x", base, diff, diff_b)
    expected_w, expected_b = ref.get_diff_weight(1.0)
    parts = {"diff": diff, "diff_b": diff_b}
    module = make_module(parts)
    torch.testing.assert_close(module.weight_delta(base.weight.float(), 0.5), expected_w * 0.5, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(module.bias_delta(base.bias.float(), 0.5), expected_b * 0.5, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_glora_matches_lycoris(kind):
    base = layer(kind)
    inp = base.weight.shape[1]
    rank = 3
    a1, a2 = rand(inp, rank, seed=1), rand(rank, inp, seed=2)
    b1, b2 = rand(8, rank, seed=3), rand(rank, flat_in(base), seed=4)
    if kind == "conv":
        a1, a2, b1 = a1[..., None, None], a2[..., None, None], b1[..., None, None]
        b2 = b2.reshape(rank, inp, 3, 3)
    alpha = torch.tensor(1.5)
    ref = lycoris_modules.GLoRAModule.make_module_from_state_dict("x", base, a1, a2, b1, b2, None, alpha)
    expected = ref.get_diff_weight(1.0, shape=base.weight.shape)[0]
    parts = {"a1.weight": a1, "a2.weight": a2, "b1.weight": b1, "b2.weight": b2, "alpha": alpha}
    assert module_kind(parts) == "glora"
    torch.testing.assert_close(ours(parts, base.weight), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_dora_per_output_matches_lycoris(kind):
    base = layer(kind)
    out = base.weight.shape[0]
    rank = 4
    up = rand(out, rank, *([1, 1] if kind == "conv" else []), seed=1)
    down = rand(rank, *base.weight.shape[1:], seed=2)
    alpha = torch.tensor(2.0)
    magnitude = rand(out, *[1] * (base.weight.dim() - 1), seed=3).abs() + 0.5
    ref = lycoris_modules.LoConModule.make_module_from_state_dict("x", base, up, down, None, alpha, magnitude)
    expected = ref.get_merged_weight(1.0)[0] - base.weight
    parts = {"lora_up.weight": up, "lora_down.weight": down, "alpha": alpha, "dora_scale": magnitude}
    torch.testing.assert_close(ours(parts, base.weight), expected.detach(), rtol=1e-4, atol=1e-5)


def test_dora_per_input_follows_a1111_formula():
    # A1111 / kohya store one magnitude per input column; the multiplier weighs the finished change
    base = layer("linear")
    up, down = rand(8, 4, seed=1), rand(4, 12, seed=2)
    magnitude = rand(1, 12, seed=3).abs() + 0.5
    parts = {"lora_up.weight": up, "lora_down.weight": down, "alpha": torch.tensor(4.0), "dora_scale": magnitude}
    w = base.weight.detach().double()
    merged = w + (up.double() @ down.double())
    column_norm = merged.norm(dim=0, keepdim=True)
    expected = (merged * magnitude.double() / column_norm - w) * 0.7
    torch.testing.assert_close(ours(parts, base.weight, 0.7).double(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_oft_matches_lycoris_without_constraint(kind):
    base = layer(kind)
    blocks = rand(4, 2, 2, seed=1)  # 4 blocks of 2 rows
    ref = lycoris_modules.DiagOFTModule.make_module_from_state_dict("x", base, blocks, None, torch.tensor(0.0))
    expected = ref.get_diff_weight(1.0)[0].reshape(base.weight.shape)
    parts = {"oft_blocks": blocks, "alpha": torch.tensor(0.0)}
    assert module_kind(parts) == "oft"
    torch.testing.assert_close(ours(parts, base.weight), expected.detach(), rtol=1e-4, atol=1e-5)


def test_oft_constraint_and_multiplier_follow_a1111():
    # A1111: the skew part's norm is limited to alpha * out_features; the multiplier scales R W - W
    base = layer("linear")
    blocks = rand(2, 4, 4, seed=1) * 10
    alpha = 0.01
    parts = {"oft_blocks": blocks, "alpha": torch.tensor(alpha)}
    skew = (blocks - blocks.transpose(1, 2)).double()
    limit = alpha * 8
    skew = skew * (min(skew.norm().item(), limit) + 1e-8) / (skew.norm().item() + 1e-8)
    eye = torch.eye(4, dtype=torch.float64)
    rotation = torch.block_diag(*[(eye + s) @ torch.linalg.inv(eye - s) for s in skew])
    w = base.weight.detach().double()
    expected = (rotation.T @ w - w) * 0.5
    torch.testing.assert_close(ours(parts, base.weight, 0.5).double(), expected, rtol=1e-5, atol=1e-6)


def test_boft_rotation_keeps_row_norms():
    # butterfly stages are products of orthogonal block matrices: each column's norm is preserved
    base = layer("linear")
    parts = {"oft_blocks": rand(2, 4, 2, 2, seed=1), "alpha": torch.tensor(0.0)}
    w = base.weight.detach().float()
    merged = w + ours(parts, base.weight)
    torch.testing.assert_close(merged.norm(dim=0), w.norm(dim=0), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(merged, w)


def test_norm_module_adds_to_weight_and_bias():
    ln = nn.LayerNorm(8)
    parts = {"w_norm": rand(8, seed=1), "b_norm": rand(8, seed=2)}
    module = make_module(parts)
    torch.testing.assert_close(module.weight_delta(ln.weight.float(), 2.0), parts["w_norm"] * 2.0)
    torch.testing.assert_close(module.bias_delta(ln.bias.float(), 2.0), parts["b_norm"] * 2.0)


def test_lora_scale_dyn_and_cp_mid():
    up, down = rand(8, 4, seed=1), rand(4, 12, seed=2)
    w = torch.zeros(8, 12)
    base = {"lora_up.weight": up, "lora_down.weight": down, "alpha": torch.tensor(2.0)}
    torch.testing.assert_close(ours(base, w), (up @ down) * 0.5)
    torch.testing.assert_close(ours({**base, "scale": torch.tensor(3.0)}, w), (up @ down) * 3.0)
    # dyn keeps the first ranks; the scale still uses the stored rank (A1111)
    torch.testing.assert_close(make_module(base).weight_delta(w, 1.0, dyn_dim=2), (up[:, :2] @ down[:2]) * 0.5)
    mid = rand(4, 4, 3, 3, seed=3)
    conv_up, conv_down = up[..., None, None], rand(4, 6, 1, 1, seed=4)
    expected = torch.einsum("n m k l, i n, m j -> i j k l", mid, up, conv_down.flatten(1))
    got = ours({"lora_up.weight": conv_up, "lora_down.weight": conv_down, "lora_mid.weight": mid}, torch.zeros(8, 6, 3, 3))
    torch.testing.assert_close(got, expected)


def test_unknown_parts_make_no_module():
    assert make_module({"something": torch.zeros(1)}) is None


def test_dora_with_an_all_zero_merged_column_stays_finite():
    # an all-zero weight column plus an update that does not reach it: A1111's 0 * (scale / 0) is NaN there
    weight = rand(8, 12, seed=4)
    weight[:, 5] = 0
    up, down = rand(8, 4, seed=1), rand(4, 12, seed=2)
    down[:, 5] = 0
    magnitude = rand(1, 12, seed=3).abs() + 0.5
    parts = {"lora_up.weight": up, "lora_down.weight": down, "alpha": torch.tensor(4.0), "dora_scale": magnitude}
    change = ours(parts, weight)
    assert torch.isfinite(change).all()
    assert torch.equal(change[:, 5], torch.zeros(8))
    merged = weight.double() + up.double() @ down.double()
    others = [i for i in range(12) if i != 5]
    expected = merged * magnitude.double() / merged.norm(dim=0, keepdim=True) - weight.double()
    torch.testing.assert_close(change.double()[:, others], expected[:, others], rtol=1e-5, atol=1e-6)
