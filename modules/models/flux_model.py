"""The loaded Flux.1 model (dev or schnell): transformer, 16-channel VAE, CLIP-L + T5-XXL text encoders.

Top-level attributes are the all-in-one checkpoint's prefixes (``model.diffusion_model``,
``first_stage_model`` (files say ``vae.``), ``text_encoders``), and it offers the calls the
pipeline makes on ``shared.sd_model`` with Flux's meaning, as Forge does:

* ``apply_model(x, sigma, cond)`` takes the flow time sigma in [0, 1] and returns the denoised
  latent ``x - sigma * v``; the guidance embedding (dev's "Distilled CFG Scale") is
  ``cond["guidance"]`` when set, else :attr:`distilled_cfg_scale` (the pipeline sets it per job);
* latents are the VAE's shifted and scaled: ``(z - 0.1159) * 0.3611``;
* ``flow_sigmas`` is Forge's ``PredictionFlux`` schedule ``e^mu / (e^mu + 1/t - 1)`` with
  mu = 1.15 for dev (its seq_len 4096 point of the 0.5..1.15 line) and mu = 1.0 for schnell.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from modules.models.flow_model import DiffusionWrapper, FlowLatentModel
from modules.models.nets.autoencoder import AutoencoderKL
from modules.models.nets.flux import FluxTransformer
from modules.models.nets.flux_text import FluxTextEncoders

VAE_SCALE = 0.3611
VAE_SHIFT = 0.1159
DEV_MU = 1.15
SCHNELL_MU = 1.0
FLOW_TIMESTEPS = 10000
"""Forge's ``pseudo_timestep_range`` for Flux."""
DEFAULT_DISTILLED_CFG = 3.5


def flux_mu(seq_len: int = 4096, base_seq_len: int = 256, max_seq_len: int = 4096, base_shift: float = 0.5,
            max_shift: float = 1.15) -> float:
    """The time shift mu on the line through (256 tokens, 0.5) and (4096 tokens, 1.15) (Forge fixes 4096)."""
    slope = (max_shift - base_shift) / (max_seq_len - base_seq_len)
    return seq_len * slope + base_shift - slope * base_seq_len


def flux_sigmas(mu: float, timesteps: int = FLOW_TIMESTEPS) -> torch.Tensor:
    """sigma(t) = e^mu / (e^mu + 1/t - 1) at t = 1/N ... 1, ascending."""
    t = torch.arange(1, timesteps + 1, dtype=torch.float64, device="cpu") / timesteps
    return (math.exp(mu) / (math.exp(mu) + (1 / t - 1))).float()


class Flux(FlowLatentModel):
    """Flux.1 dev / schnell and their fine-tunes, from a single-file checkpoint."""

    is_flux = True

    def __init__(self, transformer: FluxTransformer, first_stage: AutoencoderKL, text_encoders: FluxTextEncoders,
                 mu: float | None = None) -> None:
        super().__init__()
        self.model = DiffusionWrapper(transformer)
        self.first_stage_model = first_stage
        self.text_encoders = text_encoders
        self.is_schnell = not transformer.has_guidance
        self.flow_shift = float(mu if mu is not None else (SCHNELL_MU if self.is_schnell else flux_mu()))
        self.use_distilled_cfg_scale = not self.is_schnell
        self.distilled_cfg_scale = DEFAULT_DISTILLED_CFG
        self.scale_factor = VAE_SCALE
        self.shift_factor = VAE_SHIFT
        self.config_path: str | None = None
        self.family = "flux-schnell" if self.is_schnell else "flux-dev"
        self._sigmas = flux_sigmas(self.flow_shift)

    @property
    def device(self) -> torch.device:
        return self.model.diffusion_model.img_in.weight.device

    def apply_model(self, x: torch.Tensor, sigma: torch.Tensor, cond: Mapping[str, Any]) -> torch.Tensor:
        net = self.model.diffusion_model
        sigma = self.per_sample_sigma(x, sigma)
        guidance = cond.get("guidance") if isinstance(cond, Mapping) else None
        if guidance is None:
            guidance = torch.full((x.shape[0],), float(self.distilled_cfg_scale), device=x.device)
        v = net(x, sigma, context=cond["crossattn"], y=cond["vector"], guidance=guidance)
        return self.denoised(x, v, sigma)
