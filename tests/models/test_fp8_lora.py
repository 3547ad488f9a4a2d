"""LoRA on FP8-stored weights: merged in fp32 from the fp8 weight, or from the fp16 copy with
``cache_fp16_weight`` (as A1111), written back in FP8, restored bit for bit; close to LoRA on fp16 weights."""
from __future__ import annotations

import pytest
import torch

from modules.models.fp8_storage import FP8_DTYPE, Fp8Settings, lora_merge_source
from modules.models.loader import LoadOptions, load_model
from modules.models.patcher import patcher_for
from modules.models.tiny_factory import make_tiny_checkpoint
from modules.networks.lora.layer_index import build_layer_index
from modules.networks.lora.lora_networks import LoraNetworks, NetworkRequest
from modules.networks.lora.network_files import NetworkFiles
from tests.models.test_fp8_storage import fp8_rounded_reference, rel_err, unet_output
from tests.networks.lora_files import kohya_names, lora_for_layers, write

pytestmark = pytest.mark.skipif(FP8_DTYPE is None, reason="torch without float8")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny SD1 checkpoint (fp16 file) and a LoRA over every UNet and text-encoder layer of it."""
    folder = tmp_path_factory.mktemp("fp8-lora")
    path = make_tiny_checkpoint("sd1", folder, dtype=torch.float16)
    lora_dir = folder / "Lora"
    lora_dir.mkdir()
    index = build_layer_index(load_model(path))
    names = kohya_names(index, kinds=("linear", "conv"))
    tensors = lora_for_layers(index, names, rank=4, alpha=2.0, scale=0.3)
    write(str(lora_dir / "all.safetensors"), tensors)
    return path, lora_dir, names, tensors


def networks(lora_dir) -> LoraNetworks:
    return LoraNetworks(NetworkFiles(lambda: [str(lora_dir)]))


def delta(tensors: dict, name: str, multiplier: float, shape) -> torch.Tensor:
    """The LoRA's change of one weight, computed here from the file's tensors."""
    up, down = tensors[f"{name}.lora_up.weight"], tensors[f"{name}.lora_down.weight"]
    scale = float(tensors[f"{name}.alpha"]) / down.shape[0]
    return (multiplier * scale * (up.flatten(1) @ down.flatten(1))).reshape(shape)


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().view(torch.uint8).clone()


@pytest.mark.parametrize("cache", [False, True])
def test_merge_source_and_exact_restore(setup, cache):
    path, lora_dir, names, tensors = setup
    model = load_model(path, LoadOptions(fp8=Fp8Settings("Enable", cache_fp16=cache)))
    index = build_layer_index(model)
    before = {name: bits(index.get(name).module.weight) for name in names}
    start = {name: (index.get(name).module.fp16_weight if cache else index.get(name).module.weight).float()
             for name in names}

    report = networks(lora_dir).activate(model, [NetworkRequest("all", 0.8)])
    assert not report.comments()
    for name in names:
        layer = index.get(name).module
        assert layer.weight.dtype == torch.float8_e4m3fn
        # fp32 merge from the fp16 copy (cache) or the fp8 weight, rounded once to fp8 (A1111's order); the
        # delta computed here may differ from the merge's in the last fp32 bit, which flips the rounding of a
        # value lying on an fp8 rounding boundary: so each weight is within e4m3's half ulp of the fp32 sum
        # (see test_fp8_storage), and all but a few are bit-equal to its rounding
        merged = start[name] + delta(tensors, name, 0.8, layer.weight.shape)
        half_ulp = torch.maximum(merged.abs() * 2 ** -4, torch.full_like(merged, 2 ** -10)) * (1 + 1e-5)
        assert ((layer.weight.float() - merged).abs() <= half_ulp).all(), name
        same = bits(layer.weight) == bits(merged.to(torch.float8_e4m3fn))
        assert same.float().mean() > 0.995, name

    patcher_for(model).unpatch()
    for name in names:
        assert torch.equal(bits(index.get(name).module.weight), before[name]), name


def test_lora_on_fp8_against_lora_on_fp16(setup):
    """The same LoRA on the fp16 weights, as reference.  With the fp16 cache the merged weight is rounded to
    FP8 once, so the output is that of the reference model with its merged weights rounded by torch's own
    cast; without it the base weight was rounded before the merge too: further off, but less than twice."""
    path, lora_dir, _names, _tensors = setup
    full = load_model(path)
    without_lora = unet_output(full)
    networks(lora_dir).activate(full, [NetworkRequest("all", 1.0)])
    reference = unet_output(full)
    assert rel_err(reference, without_lora) > 0.05  # the LoRA changes the output well beyond FP8's error
    fp8_rounded_reference(full)
    rounded_once = unet_output(full)
    errors = {}
    for cache in (False, True):
        fp8 = load_model(path, LoadOptions(fp8=Fp8Settings("Enable", cache_fp16=cache)))
        plain = unet_output(fp8)
        networks(lora_dir).activate(fp8, [NetworkRequest("all", 1.0)])
        ours = unet_output(fp8)
        errors[cache] = rel_err(ours, reference)
        if cache:
            torch.testing.assert_close(ours, rounded_once, rtol=1e-3, atol=1e-4)
        patcher_for(fp8).unpatch()
        assert torch.equal(unet_output(fp8), plain)
    assert errors[True] < errors[False] < 2 * errors[True], errors


def test_stale_cache_is_not_merged_from(setup):
    """A weight replaced since the fp16 copy was taken merges from itself, not from the old copy."""
    path = setup[0]
    model = load_model(path, LoadOptions(fp8=Fp8Settings("Enable", cache_fp16=True)))
    layer = model.model.diffusion_model.out[2]
    assert lora_merge_source(layer, "weight", layer.weight) is layer.fp16_weight
    assert lora_merge_source(layer, "bias", layer.bias) is None
    with torch.no_grad():
        layer.weight.copy_((layer.weight.float() + 0.5).to(torch.float8_e4m3fn))
    assert lora_merge_source(layer, "weight", layer.weight) is None
