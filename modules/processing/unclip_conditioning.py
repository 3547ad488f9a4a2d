"""The image embedding SD2 unCLIP models read as the UNet's ``y`` (A1111's ``unclip_image_conditioning``).

img2img: the init picture's CLIP image embedding, through the noise augmentor at noise level 0 (A1111's
fixed level), joined with the level's embedding: ``[batch, 2 * timestep_dim]``.  txt2img: zeros of that
width (A1111's ``txt2img_image_conditioning`` for ``crossattn-adm``).  The CFG denoiser gives the uncond
rows zeros in both cases.
"""
from __future__ import annotations

from typing import Any

import torch

NOISE_LEVEL = 0
"""A1111 always noises the embedding at level 0 (its ``noise_level = 0  # TODO: Allow other noise levels?``)."""


def is_unclip_model(model: Any) -> bool:
    """SD2 unCLIP-L/H checkpoints: ``conditioning_key`` ``crossattn-adm`` with an image ``embedder``."""
    return getattr(model, "conditioning_key", None) == "crossattn-adm" and hasattr(model, "noise_augmentor")


def unclip_conditioning(model: Any, source_image: torch.Tensor, latent: torch.Tensor,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """``[batch, 2 * timestep_dim]`` from ``source_image`` in [-1, 1].  The augmentor's noise comes from
    ``generator`` (seeded by the caller, so a seed gives the same picture; A1111 draws it from the global
    RNG), on the CPU as the job's other noise."""
    embedder = model.embedder
    weight = next(embedder.parameters())
    with torch.no_grad():
        embedding = embedder(source_image.to(weight.device, weight.dtype)).float()
        levels = torch.full((embedding.shape[0],), NOISE_LEVEL, dtype=torch.long, device=embedding.device)
        noise = torch.randn(embedding.shape, generator=generator, dtype=torch.float32).to(embedding.device)
        noised, level_embedding = model.noise_augmentor(embedding, levels, noise)
    adm = torch.cat([noised, level_embedding], dim=1)
    if adm.shape[0] != latent.shape[0]:
        adm = adm[:1].expand(latent.shape[0], -1)
    return adm.to(latent.device, latent.dtype)


def txt2img_unclip_conditioning(model: Any, x: torch.Tensor) -> torch.Tensor:
    """No picture: a zero embedding and a zero level embedding."""
    return x.new_zeros(x.shape[0], 2 * model.noise_augmentor.timestep_dim)
