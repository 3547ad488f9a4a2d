"""Every tiny family checkpoint loads through the real loader, runs a UNet step, encodes and decodes."""
from __future__ import annotations

import pytest
import torch

from modules.models.attention import SplitAttention
from modules.models.loader import LoadOptions, load_model
from modules.models.precision import PrecisionOptions, apply_dtypes, plan_dtypes
from modules.models.schedule import make_alphas_cumprod
from modules.models.tiny_factory import FAMILIES, make_tiny_checkpoint
from modules.models.v_probe import is_v_prediction, mean_output_shift


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return {family: make_tiny_checkpoint(family, folder) for family in FAMILIES}


def conditioning(model, batch: int):
    texts = ["a photo of a cat, best quality"] * (batch - 1) + ["word " * 90]
    cond = model.get_learned_conditioning(texts)
    in_channels = model.model.diffusion_model.in_channels
    extra = [torch.randn(batch, in_channels - 4, 8, 8)] if in_channels != 4 else []
    if model.is_sdxl:
        return {**cond, "c_concat": extra}
    return {"c_crossattn": [cond], "c_concat": extra}


@pytest.mark.parametrize("family", FAMILIES)
def test_family_loads_and_runs(checkpoints, family):
    model = load_model(checkpoints[family])
    assert model.family == family
    assert model.is_sdxl == family.startswith(("sdxl", "ssd"))
    assert model.is_ssd == (family == "ssd-1b")
    assert model.is_sd2 == family.startswith("sd2")
    assert model.parameterization == ("v" if family == "sd2-v" else "eps")
    assert not any(p.requires_grad for p in model.parameters())
    assert all(p.dtype == torch.float32 for p in model.parameters())
    torch.manual_seed(0)
    with torch.no_grad():
        image = torch.rand(2, 3, 64, 64) * 2 - 1
        latent = model.get_first_stage_encoding(model.encode_first_stage(image))
        assert latent.shape == (2, 4, 8, 8)
        out = model.apply_model(latent, torch.tensor([999.0, 1.0]), conditioning(model, 2))
        assert out.shape == latent.shape and torch.isfinite(out).all()
        decoded = model.decode_first_stage(out)
        assert decoded.shape == (2, 3, 64, 64)


def test_dummy_image_conditioning_is_ignored_by_txt2img_models(checkpoints):
    model = load_model(checkpoints["sd1"])
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        c = model.get_learned_conditioning(["a cat"])
        plain = model.apply_model(x, torch.tensor([10.0]), {"c_crossattn": [c]})
        dummy = model.apply_model(x, torch.tensor([10.0]), {"c_crossattn": [c], "c_concat": [torch.zeros(1, 5, 1, 1)]})
    assert torch.equal(plain, dummy)


def test_checkpoint_schedule_is_used_and_kept_fp32(checkpoints):
    model = load_model(checkpoints["sd1"])
    assert torch.equal(model.alphas_cumprod, make_alphas_cumprod())
    model.half()
    assert model.alphas_cumprod.dtype == torch.float32


def test_sdxl_conditioning_layout(checkpoints):
    model = load_model(checkpoints["sdxl"])
    with torch.no_grad():
        cond = model.get_learned_conditioning(["a", "b"], width=640, height=512)
        negative = model.get_learned_conditioning(["", ""], is_negative_prompt=True)
    assert cond["crossattn"].shape == (2, 77, 64)
    assert cond["vector"].shape == (2, model.model.diffusion_model.adm_in_channels)
    assert negative["crossattn"].abs().sum() == 0
    assert negative["vector"][:, :32].abs().sum() == 0  # pooled text zeroed, size embeddings kept
    assert negative["vector"][:, 32:].abs().sum() > 0


def test_refiner_aesthetic_score_defaults(checkpoints):
    model = load_model(checkpoints["sdxl-refiner"])
    assert model.is_refiner
    with torch.no_grad():
        positive = model.get_learned_conditioning(["x"])["vector"]
        negative = model.get_learned_conditioning(["x"], is_negative_prompt=True)["vector"]
        six = model.get_learned_conditioning(["x"], aesthetic_score=2.5)["vector"]
    assert not torch.allclose(positive[:, -256:], negative[:, -256:])
    assert torch.allclose(six[:, -256:], negative[:, -256:])


def test_split_attention_matches_sdpa(checkpoints):
    default = load_model(checkpoints["sd2"])
    split = load_model(checkpoints["sd2"], LoadOptions(attention=SplitAttention(query_chunk=5)))
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        c = default.get_learned_conditioning(["a cat"])
        a = default.apply_model(x, torch.tensor([500.0]), c)
        b = split.apply_model(x, torch.tensor([500.0]), c)
        assert torch.allclose(a, b, atol=1e-5)
        assert torch.allclose(default.get_learned_conditioning(["a cat"]), split.get_learned_conditioning(["a cat"]),
                              atol=1e-5)


def test_v_probe_on_weights(checkpoints):
    from modules.models.loader import read_state_dict
    from modules.models.tiny_factory import tiny_config
    sd, _ = read_state_dict(checkpoints["sd2"])
    config = tiny_config("sd2")
    sd["model.diffusion_model.out.2.weight"] = torch.zeros_like(sd["model.diffusion_model.out.2.weight"])
    sd["model.diffusion_model.out.2.bias"] = torch.full((4,), -5.0)
    assert mean_output_shift(sd, config) == pytest.approx(-5.5)
    assert is_v_prediction(sd, config)
    sd["model.diffusion_model.out.2.bias"] = torch.full((4,), 0.4)
    assert not is_v_prediction(sd, config)


def test_precision_plans():
    cpu = plan_dtypes("cpu")
    assert (cpu.unet, cpu.vae, cpu.autocast) == (torch.float32, torch.float32, False)
    gpu = plan_dtypes("cuda")
    assert (gpu.unet, gpu.text, gpu.vae, gpu.autocast) == (torch.float16,) * 3 + (True,)
    assert plan_dtypes("cuda", PrecisionOptions(no_half_vae=True)).vae == torch.float32
    assert plan_dtypes("cuda", PrecisionOptions(no_half=True)).unet == torch.float32
    upcast = plan_dtypes("cuda", PrecisionOptions(upcast_sampling=True))
    assert (upcast.unet, upcast.upcast_sampling, upcast.autocast) == (torch.float16, True, False)
    with pytest.raises(ValueError):
        plan_dtypes("cuda", PrecisionOptions(precision="quarter"))


def test_apply_dtypes_keeps_vae_separate(checkpoints):
    model = load_model(checkpoints["sd1"])
    apply_dtypes(model, plan_dtypes("cuda", PrecisionOptions(no_half_vae=True)))
    assert model.model.diffusion_model.dtype == torch.float16
    assert model.cond_stage_model.transformer.text_model.final_layer_norm.weight.dtype == torch.float16
    assert model.first_stage_model.dtype == torch.float32
    assert model.alphas_cumprod.dtype == torch.float32
