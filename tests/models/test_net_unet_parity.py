"""UNet and VAE parity with diffusers on the same random weights.

The reference is diffusers' own ``UNet2DConditionModel`` / ``AutoencoderKL``,
configured by diffusers' LDM-YAML reader and loaded through diffusers' LDM
single-file converters, so nothing of ours shapes the reference except the
weights and the (tiny) YAML.
"""
from __future__ import annotations

import warnings

import pytest
import torch

from modules.models.config_registry import build_from_config
from modules.models.nets.sdxl_conditioner import ConcatTimestepEmbedderND
from modules.models.tiny_factory import tiny_config

single_file = pytest.importorskip("diffusers.loaders.single_file_utils")
diffusers = pytest.importorskip("diffusers")

TOLERANCE = 1e-4


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return ((ours - ref).abs().max() / ref.abs().max()).item()


def build_pair(family: str, seed: int = 0):
    config = tiny_config(family)
    torch.manual_seed(seed)
    ours = build_from_config(config, family).eval()
    # Default init leaves zero-free but small weights; widen them so every path matters.
    with torch.no_grad():
        for p in ours.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    checkpoint = ours.state_dict()
    return config, ours, checkpoint


def diffusers_unet(config, checkpoint, **overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unet_config = single_file.create_unet_diffusers_config_from_ldm(config, checkpoint, image_size=64)
    unet_config.update(overrides)
    ref = diffusers.UNet2DConditionModel(**unet_config).eval()
    converted = single_file.convert_ldm_unet_checkpoint(checkpoint, unet_config)
    ref.load_state_dict(converted, strict=True)
    return ref


@pytest.mark.parametrize("family", ["sd1", "sd2", "sd1-inpaint"])
def test_unet_matches_diffusers_sd(family):
    config, ours, checkpoint = build_pair(family)
    ref = diffusers_unet(config, checkpoint)
    unet = ours.model.diffusion_model
    torch.manual_seed(1)
    x = torch.randn(2, unet.in_channels, 16, 16)
    t = torch.tensor([10.0, 900.0])
    context = torch.randn(2, 77, unet.context_dim)
    with torch.no_grad():
        got = unet(x, t, context=context)
        want = ref(x, t, encoder_hidden_states=context).sample
    assert rel_err(got, want) < TOLERANCE


@pytest.mark.parametrize("family", ["sdxl", "sdxl-refiner"])
def test_unet_matches_diffusers_sdxl(family):
    config, ours, checkpoint = build_pair(family)
    unet = ours.model.diffusion_model
    # diffusers keys SDXL off the full-size context width; the tiny one needs the SDXL path named.
    ref = diffusers_unet(config, checkpoint, addition_embed_type="text_time", addition_time_embed_dim=256,
                         class_embed_type=None)
    torch.manual_seed(2)
    x = torch.randn(2, 4, 16, 16)
    t = torch.tensor([1.0, 500.0])
    context = torch.randn(2, 77, unet.context_dim)
    time_ids = torch.tensor([[1024.0, 768.0, 0.0, 32.0, 1024.0, 768.0], [512.0, 512.0, 16.0, 0.0, 640.0, 896.0]])
    if family == "sdxl-refiner":
        time_ids = torch.cat([time_ids[:, :4], torch.tensor([[6.0], [2.5]])], dim=1)
    n_size_dims = time_ids.shape[1]
    pooled = torch.randn(2, unet.adm_in_channels - 256 * n_size_dims)
    fourier = ConcatTimestepEmbedderND(256)
    y = torch.cat([pooled] + [fourier(time_ids[:, i:i + 2]) for i in range(0, n_size_dims - 1, 2)]
                  + ([fourier(time_ids[:, 4:5])] if n_size_dims == 5 else []), dim=1)
    with torch.no_grad():
        got = unet(x, t, context=context, y=y)
        want = ref(x, t, encoder_hidden_states=context,
                   added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}).sample
    assert rel_err(got, want) < TOLERANCE


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_vae_matches_diffusers(family):
    config, ours, checkpoint = build_pair(family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vae_config = single_file.create_vae_diffusers_config_from_ldm(config, checkpoint, image_size=64)
    ref = diffusers.AutoencoderKL(**vae_config).eval()
    ref.load_state_dict(single_file.convert_ldm_vae_checkpoint(checkpoint, vae_config), strict=True)
    torch.manual_seed(3)
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    latent = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        posterior = ours.first_stage_model.encode(image)
        want_posterior = ref.encode(image).latent_dist
        got_image = ours.first_stage_model.decode(latent)
        want_image = ref.decode(latent).sample
    assert rel_err(posterior.mean, want_posterior.mean) < TOLERANCE
    assert rel_err(posterior.logvar, want_posterior.logvar) < TOLERANCE
    assert rel_err(got_image, want_image) < TOLERANCE
    assert vae_config["scaling_factor"] == ours.scale_factor
