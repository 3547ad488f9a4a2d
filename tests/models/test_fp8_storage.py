"""FP8 weight storage (setting ``fp8_storage``) on tiny SD1 / SDXL models: which layers, the per-layer cast,
and the outputs against an independent reference (torch's own float8 rounding of the same weights)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from modules.models.fp8_storage import (
    FP8_DTYPE, Fp8Conv2d, Fp8Linear, Fp8Settings, compute_dtype, fp8_state, store_fp8, wanted_state)
from modules.models.loader import LoadOptions, load_model
from modules.models.precision import plan_dtypes
from modules.models.tiny_factory import make_tiny_checkpoint

pytestmark = pytest.mark.skipif(FP8_DTYPE is None, reason="torch without float8")

LAYERS = (nn.Linear, nn.Conv2d)

_files: dict[str, object] = {}


def checkpoint(tmp_path_factory, family: str):
    """A tiny checkpoint written in fp16, as most shared checkpoints are."""
    if family not in _files:
        _files[family] = make_tiny_checkpoint(family, tmp_path_factory.mktemp(f"fp8-{family}"), dtype=torch.float16)
    return _files[family]


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def unet_output(model, seed: int = 0) -> torch.Tensor:
    unet = model.model.diffusion_model
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, unet.in_channels, 16, 16, generator=g)
    context = torch.randn(2, 7, unet.context_dim, generator=g)
    y = torch.randn(2, unet.adm_in_channels, generator=g) if unet.adm_in_channels else None
    with torch.no_grad():
        return unet(x, torch.tensor([500.0, 20.0]), context, y=y)


def fp8_rounded_reference(model) -> None:
    """What FP8 storage must compute: every UNet/text-encoder Linear/Conv2d weight rounded by torch's own cast."""
    with torch.no_grad():
        for part in (model.model.diffusion_model, model.cond_stage_model if hasattr(model, "cond_stage_model")
                     else model.conditioner):
            for module in part.modules():
                if type(module) in LAYERS:
                    module.weight.copy_(module.weight.to(torch.float8_e4m3fn).to(module.weight.dtype))


# --- settings ---

def test_settings_modes_and_bad_value():
    assert not Fp8Settings().applies(True, "cpu")
    assert Fp8Settings("Enable").applies(False, "cpu") and Fp8Settings("Enable").applies(True, "cuda")
    assert Fp8Settings("Enable for SDXL").applies(True, "cpu")
    assert not Fp8Settings("Enable for SDXL").applies(False, "cpu")
    assert not Fp8Settings("Enable").applies(True, "mps")  # no float8 on MPS, as A1111
    with pytest.raises(ValueError, match="fp8_storage must be one of Disable, Enable for SDXL, Enable, not 'On'"):
        Fp8Settings("On")


def test_settings_from_options_object():
    class Opts:
        fp8_storage = "Enable for SDXL"
        cache_fp16_weight = True
    assert Fp8Settings.from_opts(Opts()) == Fp8Settings("Enable for SDXL", True)
    assert Fp8Settings.from_opts(object()) == Fp8Settings()


# --- one layer ---

def test_layer_stores_fp8_and_computes_with_the_rounded_weight_exactly():
    torch.manual_seed(0)
    holder = nn.Module()
    holder.linear, holder.conv, holder.other = nn.Linear(64, 32), nn.Conv2d(8, 16, 3, padding=1), nn.Linear(4, 4)
    original = {name: (m.weight.detach().clone(), m.bias.detach().clone()) for name, m in holder.named_children()}
    model = nn.Module()
    model.model = nn.Module()
    model.model.diffusion_model = nn.Sequential(holder.linear, holder.conv)
    model.cond_stage_model = nn.Sequential(nn.Identity())
    linear_forward = nn.Linear.forward

    assert store_fp8(model, plan_dtypes("cpu")) == 2
    assert type(holder.linear) is Fp8Linear and type(holder.conv) is Fp8Conv2d and type(holder.other) is nn.Linear
    assert nn.Linear.forward is linear_forward  # nothing patched class-wide
    assert isinstance(holder.linear, nn.Linear) and isinstance(holder.conv, nn.Conv2d)  # LoRA's layer kinds hold
    assert holder.linear.weight.dtype == torch.float8_e4m3fn and holder.linear.bias.dtype == torch.float32
    assert compute_dtype(holder.linear) == torch.float32 and compute_dtype(holder.other) == torch.float32
    assert model.fp8 is True and fp8_state(model) == (True, False)

    x = torch.randn(5, 64)
    w, b = original["linear"]
    assert torch.equal(holder.linear(x), F.linear(x, w.to(torch.float8_e4m3fn).float(), b))
    image = torch.randn(2, 8, 9, 9)
    w, b = original["conv"]
    assert torch.equal(holder.conv(image), F.conv2d(image, w.to(torch.float8_e4m3fn).float(), b, padding=1))


def test_rounding_error_is_within_e4m3_half_ulp():
    """Per weight: at most 2^-4 relative for normal numbers (3 mantissa bits), 2^-10 absolute below 2^-6
    (subnormal spacing 2^-9): the bound the whole-model tolerance below rests on."""
    w = torch.randn(4096) * 0.05
    layer = nn.Linear(4096, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(w[None])
    model = nn.Module()
    model.model = nn.Module()
    model.model.diffusion_model = layer
    model.cond_stage_model = nn.Sequential(nn.Identity())
    store_fp8(model, plan_dtypes("cpu"))
    stored = layer.weight.float()[0]
    bound = torch.maximum(w.abs() * 2 ** -4, torch.full_like(w, 2 ** -10))
    assert ((stored - w).abs() <= bound).all()


# --- whole models ---

@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_loaded_model_equals_the_rounded_reference_bit_for_bit(tmp_path_factory, family):
    path = checkpoint(tmp_path_factory, family)
    full = load_model(path)
    fp8 = load_model(path, LoadOptions(fp8=Fp8Settings("Enable")))
    reference = load_model(path)
    fp8_rounded_reference(reference)

    unet = fp8.model.diffusion_model
    layers = [m for m in unet.modules() if isinstance(m, LAYERS)]
    assert layers and all(m.weight.dtype == torch.float8_e4m3fn for m in layers)
    assert all(p.dtype == torch.float32 for p in fp8.first_stage_model.parameters())  # the VAE is left alone
    text = fp8.conditioner if family == "sdxl" else fp8.cond_stage_model
    assert any(p.dtype == torch.float8_e4m3fn for p in text.parameters())
    # norms, biases, embeddings: compute dtype
    assert {p.dtype for n, p in unet.named_parameters() if not n.endswith(".weight") or "norm" in n} == {torch.float32}

    ours, expected, exact = unet_output(fp8), unet_output(reference), unet_output(full)
    assert torch.equal(ours, expected)
    # against the fp16 weights: 3 mantissa bits (2^-4 per weight) and the quarter of the weights that fall
    # below e4m3's normal range (|w| < 2^-6: 2^-10 absolute), as in real checkpoints, give 0.10 on both
    # families; bfloat16 weights give 0.005 and float8_e5m2 (2 mantissa bits) 0.17, so 0.14 tells them apart
    err = rel_err(ours, exact)
    assert 0.01 < err < 0.14, err


@pytest.mark.parametrize("family,converted", [("sd1", False), ("sdxl", True)])
def test_enable_for_sdxl_converts_sdxl_only(tmp_path_factory, family, converted):
    model = load_model(checkpoint(tmp_path_factory, family), LoadOptions(fp8=Fp8Settings("Enable for SDXL")))
    assert model.fp8 is converted
    assert any(p.dtype == torch.float8_e4m3fn for p in model.parameters()) is converted
    assert wanted_state(Fp8Settings("Enable for SDXL"), model, "cpu") == (converted, False)


def test_disabled_loads_unchanged(tmp_path_factory):
    model = load_model(checkpoint(tmp_path_factory, "sd1"))
    assert model.fp8 is False and fp8_state(model) == (False, False)
    assert all(type(m) in (nn.Linear, nn.Conv2d) for m in model.modules() if isinstance(m, LAYERS))


def test_weight_bytes_are_a_quarter_of_fp32(tmp_path_factory):
    path = checkpoint(tmp_path_factory, "sdxl")

    def layer_bytes(model) -> int:
        return sum(m.weight.nbytes for m in model.model.diffusion_model.modules() if isinstance(m, LAYERS))

    assert layer_bytes(load_model(path)) == 4 * layer_bytes(load_model(path, LoadOptions(fp8=Fp8Settings("Enable"))))


def test_fp16_cache_is_the_files_weight_on_the_cpu(tmp_path_factory):
    from safetensors.torch import load_file

    path = checkpoint(tmp_path_factory, "sd1")
    model = load_model(path, LoadOptions(fp8=Fp8Settings("Enable", cache_fp16=True)))
    assert fp8_state(model) == (True, True)
    sd = load_file(str(path))
    layer = model.model.diffusion_model.out[2]
    assert layer.fp16_weight.device.type == "cpu" and layer.fp16_weight.dtype == torch.float16
    assert torch.equal(layer.fp16_weight, sd["model.diffusion_model.out.2.weight"])
    assert "fp16_weight" not in " ".join(model.state_dict())  # not a checkpoint key
