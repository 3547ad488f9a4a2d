"""The loaded SD3 model (A1111's ``SD3Inferencer``): MMDiT, 16-channel VAE, CLIP-L/G (+ T5) text encoders.

Top-level attributes are the checkpoint prefixes (``model.diffusion_model``,
``first_stage_model``, ``text_encoders``).  It offers the calls A1111 code and
extensions make on ``shared.sd_model`` with SD3's meaning:

* ``apply_model(x, sigma, cond)`` takes the flow time sigma in [0, 1] (not a DDPM
  timestep) and returns the denoised latent ``x - sigma * v``, as A1111's does;
* latents are the VAE's shifted and scaled: ``(z - 0.0609) * 1.5305``;
* ``flow_sigmas`` is the discrete flow schedule with shift 3 that the sampling
  layer's flow denoiser uses; ``alphas_cumprod`` is its DDPM equivalent
  ``1 / (sigma^2 + 1)``, as A1111 sets it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from modules.models.flow_model import DiffusionWrapper, FlowLatentModel
from modules.models.nets.autoencoder import AutoencoderKL
from modules.models.nets.mmdit import MMDiT
from modules.models.nets.sd3_text import Sd3TextEncoders

VAE_SCALE = 1.5305
VAE_SHIFT = 0.0609
FLOW_SHIFT = 3.0
FLOW_TIMESTEPS = 1000


def flow_sigmas(shift: float = FLOW_SHIFT, timesteps: int = FLOW_TIMESTEPS) -> torch.Tensor:
    """sigma(t) = shift t / (1 + (shift - 1) t) at t = 1/1000 ... 1 (ascending; SD3's discrete flow schedule)."""
    # on the CPU explicitly: models are built under a meta default device
    t = torch.arange(1, timesteps + 1, dtype=torch.float32, device="cpu") / timesteps
    if shift == 1.0:
        return t
    return shift * t / (1 + (shift - 1) * t)


class StableDiffusion3(FlowLatentModel):
    """SD3 Medium and its fine-tunes, from a single-file checkpoint."""

    is_sd3 = True

    def __init__(self, mmdit: MMDiT, first_stage: AutoencoderKL, text_encoders: Sd3TextEncoders,
                 shift: float = FLOW_SHIFT) -> None:
        super().__init__()
        self.model = DiffusionWrapper(mmdit)
        self.first_stage_model = first_stage
        self.text_encoders = text_encoders
        self.flow_shift = float(shift)
        self.scale_factor = VAE_SCALE
        self.shift_factor = VAE_SHIFT
        self.config_path: str | None = None
        self.family = "sd3"
        self._sigmas = flow_sigmas(self.flow_shift)

    @property
    def device(self) -> torch.device:
        return self.model.diffusion_model.context_embedder.weight.device

    def apply_model(self, x: torch.Tensor, sigma: torch.Tensor, cond: Mapping[str, Any]) -> torch.Tensor:
        """Denoised latent ``x - sigma * v(x, 1000 sigma)`` (A1111's ``BaseModel.apply_model``), in float32."""
        net = self.model.diffusion_model
        sigma = self.per_sample_sigma(x, sigma)
        v = net(x, sigma * 1000, context=cond["crossattn"], y=cond["vector"])
        return self.denoised(x, v, sigma)
