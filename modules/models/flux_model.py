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
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from modules.models.nets.autoencoder import AutoencoderKL, DiagonalGaussian
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


class DiffusionWrapper(nn.Module):
    """Holds the transformer at ``model.diffusion_model`` (the checkpoint path)."""

    def __init__(self, diffusion_model: FluxTransformer) -> None:
        super().__init__()
        self.diffusion_model = diffusion_model
        self.conditioning_key = "crossattn"


class Flux(nn.Module):
    """Flux.1 dev / schnell and their fine-tunes, from a single-file checkpoint."""

    is_sdxl = False
    is_sd2 = False
    is_sd1 = False
    is_ssd = False
    is_sd3 = False
    is_flux = True
    is_sdxl_inpaint = False
    is_refiner = False
    latent_channels = 16
    parameterization = "eps"
    """The flow prediction is marked by :attr:`flow_shift`, which the sampling layer reads."""
    cond_stage_key = "txt"
    text_conditioning: Any = None

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
    def cond_stage_model(self) -> FluxTextEncoders:
        return self.text_encoders

    @property
    def device(self) -> torch.device:
        return self.model.diffusion_model.img_in.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.diffusion_model.dtype

    @property
    def flow_sigmas(self) -> torch.Tensor:
        if self._sigmas.device != self.device:
            self._sigmas = self._sigmas.to(self.device)
        return self._sigmas

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return 1 / (self.flow_sigmas ** 2 + 1)

    def get_learned_conditioning(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Prompts -> ``{"crossattn": T5 tokens [B, >=256, 4096], "vector": CLIP-L pooled [B, 768]}``."""
        return self.text_encoders(list(texts))

    def apply_model(self, x: torch.Tensor, sigma: torch.Tensor, cond: Mapping[str, Any]) -> torch.Tensor:
        net = self.model.diffusion_model
        sigma = sigma.to(x.device, torch.float32).reshape(-1)
        if sigma.numel() == 1 and x.shape[0] > 1:
            sigma = sigma.expand(x.shape[0])
        guidance = cond.get("guidance") if isinstance(cond, Mapping) else None
        if guidance is None:
            guidance = torch.full((x.shape[0],), float(self.distilled_cfg_scale), device=x.device)
        v = net(x, sigma, context=cond["crossattn"], y=cond["vector"], guidance=guidance).float()
        return x - v * sigma.view(-1, *([1] * (x.ndim - 1)))

    def add_noise_to_latent(self, x: torch.Tensor, noise: torch.Tensor, amount: torch.Tensor | float) -> torch.Tensor:
        """img2img's start: the flow interpolation ``(1 - sigma) x + sigma noise``."""
        return x * (1 - amount) + noise * amount

    def fix_dimensions(self, width: int, height: int) -> tuple[int, int]:
        return width // 16 * 16, height // 16 * 16

    def decode_first_stage(self, z: torch.Tensor) -> torch.Tensor:
        return self.first_stage_model.decode(z / self.scale_factor + self.shift_factor)

    def encode_first_stage(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        posterior: DiagonalGaussian = self.first_stage_model.encode(x)
        return (posterior.sample(generator) - self.shift_factor) * self.scale_factor

    def get_first_stage_encoding(self, encoded: torch.Tensor) -> torch.Tensor:
        return encoded
