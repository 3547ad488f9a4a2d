"""Flux checkpoints: detection of dev / schnell from the keys, all-in-one loading, FP8-stored weights,
Forge's flow schedule, and the conditioning against transformers' CLIP / T5 on the same weights."""
from __future__ import annotations

import math
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from modules.models.checkpoint_io import CheckpointError
from modules.models.detection import detect, shape_table
from modules.models.flux_model import flux_mu, flux_sigmas
from modules.models.loader import LoadOptions, load_model
from modules.models.nets.flux import FLUX_SIZES, FluxTransformer
from modules.models.nets.t5 import END_ID, PAD_ID
from modules.models.tiny_flux import make_tiny_flux_checkpoint, tiny_flux_state_dict
from modules.models.tiny_sd3 import write_tiny_t5_tokenizer


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("flux")
    clip = root / "CLIP"
    write_tiny_t5_tokenizer(clip / "t5xxl_tokenizer.json")
    return root, clip


@pytest.mark.parametrize("schnell", [False, True], ids=["dev", "schnell"])
def test_detection_from_keys(schnell):
    found = detect(shape_table(tiny_flux_state_dict(schnell=schnell)))
    assert (found.family, found.config) == ("flux-schnell" if schnell else "flux-dev", "flux1-inference.yaml")
    with torch.device("meta"):  # the full-size layout (12B parameters) only on meta
        net = FluxTransformer(**{**FLUX_SIZES, "guidance": not schnell})
    full = shape_table({f"model.diffusion_model.{k}": v for k, v in net.state_dict().items()})
    assert detect(full).family == ("flux-schnell" if schnell else "flux-dev")


def test_schnell_loads_without_distilled_cfg(files):
    root, clip = files
    model = load_model(make_tiny_flux_checkpoint(root, "schnell", schnell=True), LoadOptions(text_encoder_dir=clip))
    assert model.family == "flux-schnell" and model.is_schnell and not model.use_distilled_cfg_scale
    assert model.model.diffusion_model.guidance_in is None and model.flow_shift == 1.0
    dev = load_model(make_tiny_flux_checkpoint(root, "dev"), LoadOptions(text_encoder_dir=clip))
    assert dev.family == "flux-dev" and math.isclose(dev.flow_shift, 1.15)


def test_forge_flow_schedule():
    assert math.isclose(flux_mu(4096), 1.15) and math.isclose(flux_mu(256), 0.5)
    sigmas = flux_sigmas(1.15, 10000)
    assert len(sigmas) == 10000 and torch.all(sigmas[1:] > sigmas[:-1]) and sigmas[-1] == 1
    t = 0.25
    assert math.isclose(float(sigmas[2499]), math.exp(1.15) / (math.exp(1.15) + 1 / t - 1), rel_tol=1e-6)


def test_missing_tokenizer_names_the_file(files, tmp_path):
    root, _ = files
    path = make_tiny_flux_checkpoint(root, "no-tokenizer")
    with pytest.raises(CheckpointError, match=r"t5xxl_tokenizer\.json in .*empty"):
        load_model(path, LoadOptions(text_encoder_dir=tmp_path / "empty"))


def test_fp8_stored_weights_load_and_match_their_upcast(files):
    root, clip = files
    base = make_tiny_flux_checkpoint(root, "base")
    sd = load_file(str(base))
    fp8 = {k: v.to(torch.float8_e4m3fn) if k.startswith("model.diffusion_model.") and v.ndim == 2 else v
           for k, v in sd.items()}
    save_file(fp8, str(root / "fp8.safetensors"))
    save_file({k: v.float() for k, v in fp8.items()}, str(root / "upcast.safetensors"))
    for name in ("fp8", "upcast"):
        shutil.copy(root / "base.yaml", root / f"{name}.yaml")
    stored = load_model(root / "fp8.safetensors", LoadOptions(text_encoder_dir=clip))
    upcast = load_model(root / "upcast.safetensors", LoadOptions(text_encoder_dir=clip))
    assert stored.fp8 and stored.model.diffusion_model.img_in.weight.dtype == torch.float8_e4m3fn
    cond = upcast.get_learned_conditioning(["a photo of a cat"])
    x = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([0.6])
    torch.testing.assert_close(stored.apply_model(x, sigma, cond), upcast.apply_model(x, sigma, cond))


def test_conditioning_matches_transformers(files):
    from transformers import CLIPTextModel, T5EncoderModel

    root, clip = files
    model = load_model(make_tiny_flux_checkpoint(root, "cond"), LoadOptions(text_encoder_dir=clip))
    encoders = model.text_encoders
    cond = model.get_learned_conditioning(["a photo of a cat", "red cube SPLIT dog"])

    ref_clip = CLIPTextModel(encoders.clip_l.transformer.text_model.config).eval()
    theirs = ref_clip.state_dict().keys()
    ref_clip.load_state_dict({k if k in theirs else k.removeprefix("text_model."): v
                              for k, v in encoders.clip_l.transformer.state_dict().items()})
    tokenizer = encoders.clip_l.tokenizer
    ids = [tokenizer.encode(t) for t in ("a photo of a cat", "dog")]
    rows = torch.tensor([[49406, *i, 49407] + [49407] * (75 - len(i)) for i in ids])
    with torch.no_grad():
        pooled = ref_clip(input_ids=rows).pooler_output
    torch.testing.assert_close(cond["vector"], pooled)

    ref_t5 = T5EncoderModel(encoders.t5xxl.transformer.config).eval()
    ref_t5.load_state_dict(encoders.t5xxl.transformer.state_dict())
    t5_ids = [encoders.t5_tokenizer.encode(t) for t in ("a photo of a cat", "red cube")]
    t5_rows = torch.tensor([[*i, END_ID] + [PAD_ID] * (255 - len(i)) for i in t5_ids])
    with torch.no_grad():
        expected = ref_t5(input_ids=t5_rows).last_hidden_state
    assert cond["crossattn"].shape == (2, 256, encoders.t5xxl.width)
    torch.testing.assert_close(cond["crossattn"], expected)
