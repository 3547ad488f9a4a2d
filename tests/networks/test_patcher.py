"""The model patcher: fp32 merge, backup on first touch, bit-exact restore, no work for an unchanged set."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from modules.models.patcher import ModelPatcher, PatchSet, WeightPatch, patcher_for, tensor_key


def model(dtype=torch.float32) -> nn.Module:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 5), nn.Conv2d(3, 4, 3))
    return m.to(dtype).requires_grad_(False)


def add(value: float, calls: list | None = None):
    def fn(w):
        if calls is not None:
            calls.append(1)
        return w + value
    return fn


def snapshot(m: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in m.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)


@pytest.mark.parametrize("copy_backups", [None, True], ids=["keep-original", "cpu-copy-like-gpu"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_merge_in_fp32_and_restore_bit_exact(dtype, copy_backups):
    m = model(dtype)
    before = snapshot(m)
    storage = m[0].weight.data_ptr()
    patcher = ModelPatcher(m, copy_backups=copy_backups)
    key = tensor_key("0", "weight")
    delta = torch.randn(5, 6)
    assert patcher.apply("test", PatchSet("a", {key: (WeightPatch(lambda w: w + delta),)}))
    expected = (before["0.weight"].float() + delta).to(dtype)
    assert m[0].weight.dtype == dtype and torch.equal(m[0].weight, expected)
    assert torch.equal(m[0].bias, before["0.bias"]) and torch.equal(m[1].weight, before["1.weight"])
    # the GPU way writes the parameter in place; the CPU way swaps in a new tensor
    assert (m[0].weight.data_ptr() == storage) == bool(copy_backups)
    patcher.unpatch()
    assert same(snapshot(m), before)
    assert patcher.patched_keys == []


def test_backup_taken_once_and_merges_start_from_it():
    m = model()
    original = m[0].weight.data
    patcher = ModelPatcher(m)
    key = tensor_key("0", "weight")
    patcher.apply("test", PatchSet("a", {key: (WeightPatch(add(1.0)),)}))
    patcher.apply("test", PatchSet("b", {key: (WeightPatch(add(2.0)),)}))
    # the second set is merged on the original, not on top of the first
    assert torch.equal(m[0].weight, original + 2.0)
    patcher.apply("test", None)
    assert m[0].weight.data is not None and torch.equal(m[0].weight, original)


def test_unchanged_set_is_not_merged_again():
    m = model()
    calls: list = []
    patcher = ModelPatcher(m)
    set_a = PatchSet(("lora", 1.0), {tensor_key("0", "weight"): (WeightPatch(add(1.0, calls)),)})
    assert patcher.apply("test", set_a)
    assert not patcher.apply("test", PatchSet(("lora", 1.0), {tensor_key("0", "weight"): (WeightPatch(add(1.0, calls)),)}))
    assert len(calls) == 1


def test_row_blocks_of_a_packed_tensor():
    m = nn.Module()
    m.in_proj_weight = nn.Parameter(torch.zeros(6, 2), requires_grad=False)
    patcher = ModelPatcher(m)
    patcher.apply("test", PatchSet("k", {tensor_key("", "in_proj_weight"): (WeightPatch(add(1.0), rows=(2, 4)),)}))
    assert m.in_proj_weight[:2].abs().sum() == 0 and m.in_proj_weight[4:].abs().sum() == 0
    assert torch.equal(m.in_proj_weight[2:4], torch.ones(2, 2))


def test_owners_stack_and_unpatch_one_at_a_time():
    m = model()
    original = m[0].weight.clone()
    patcher = ModelPatcher(m)
    key = tensor_key("0", "weight")
    patcher.apply("a", PatchSet(1, {key: (WeightPatch(add(1.0)),)}))
    patcher.apply("b", PatchSet(2, {key: (WeightPatch(lambda w: w * 2.0),)}))
    assert torch.equal(m[0].weight, (original + 1.0) * 2.0)
    patcher.apply("a", None)
    assert torch.equal(m[0].weight, original * 2.0)
    patcher.apply("b", None)
    assert torch.equal(m[0].weight, original)


def test_failing_patch_is_counted_and_others_still_apply():
    m = model()
    original = m[0].weight.clone()
    patcher = ModelPatcher(m)

    def bad(w):
        return w + torch.ones(3, 3)

    patcher.apply("a", PatchSet(1, {tensor_key("0", "weight"): (WeightPatch(bad, source="broken"),
                                                                WeightPatch(add(1.0), source="good"))}))
    assert patcher.errors == {"broken": 1}
    assert torch.equal(m[0].weight, original + 1.0)


@pytest.mark.parametrize("copy_backups", [None, True])
def test_weight_loaded_behind_its_back_is_kept(copy_backups):
    m = model()
    patcher = ModelPatcher(m, copy_backups=copy_backups)
    patcher.apply("a", PatchSet(1, {tensor_key("0", "weight"): (WeightPatch(add(1.0)),)}))
    fresh = torch.full((5, 6), 7.0)
    m[0].load_state_dict({"weight": fresh, "bias": m[0].bias.clone()})
    patcher.apply("a", None)
    assert torch.equal(m[0].weight, fresh)


def test_variants_do_not_change_the_installed_set():
    base = PatchSet("base", {"x:weight": (WeightPatch(add(1.0)),)})
    variant = base.with_patches("variant", {"x:weight": [WeightPatch(add(2.0))], "y:weight": [WeightPatch(add(3.0))]})
    assert len(base.patches) == 1 and len(base.patches["x:weight"]) == 1
    assert len(variant.patches["x:weight"]) == 2 and "y:weight" in variant.patches


def test_one_patcher_per_model():
    m = model()
    assert patcher_for(m) is patcher_for(m)
    assert patcher_for(model()) is not patcher_for(m)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_switching_sets_refills_the_merged_tensor_and_never_touches_the_original(dtype):
    m = model(dtype)
    original = m[0].weight.clone()
    patcher = ModelPatcher(m)
    key = tensor_key("0", "weight")

    def adder(value: float):
        def fn(w, out=None):
            return w + value if out is None else torch.add(w, value, out=out)
        return fn

    patcher.apply("a", PatchSet(1, {key: (WeightPatch(adder(1.0), takes_out=True),)}))
    merged_storage = m[0].weight.data_ptr()
    patcher.apply("a", PatchSet(2, {key: (WeightPatch(adder(2.0), takes_out=True),)}))
    assert m[0].weight.data_ptr() == merged_storage  # refilled, not allocated again
    assert torch.equal(m[0].weight, (original.float() + 2.0).to(dtype))
    patcher.apply("a", None)
    assert torch.equal(m[0].weight, original)


def test_patcher_does_not_keep_its_model_alive():
    import gc
    import weakref

    m = model()
    patcher_for(m).apply("a", PatchSet(1, {tensor_key("0", "weight"): (WeightPatch(add(1.0)),)}))
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is None
