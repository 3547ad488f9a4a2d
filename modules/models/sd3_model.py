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

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from modules.models.nets.autoencoder import AutoencoderKL, DiagonalGaussian
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


class DiffusionWrapper(nn.Module):
    """Holds the MMDiT at ``model.diffusion_model`` (the checkpoint path)."""

    def __init__(self, diffusion_model: MMDiT) -> None:
        super().__init__()
        self.diffusion_model = diffusion_model
        self.conditioning_key = "crossattn"


class StableDiffusion3(nn.Module):
    """SD3 Medium and its fine-tunes, from a single-file checkpoint."""

    is_sdxl = False
    is_sd2 = False
    is_sd1 = False
    is_ssd = False
    is_sd3 = True
    is_sdxl_inpaint = False
    is_refiner = False
    latent_channels = 16
    parameterization = "eps"
    """A1111's value for SD3; the flow prediction is marked by :attr:`flow_shift`, which the sampling layer reads."""
    cond_stage_key = "txt"
    text_conditioning: Any = None
    """Set by the prompting layer when the model is attached to the web UI; None for a bare model."""

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
    def cond_stage_model(self) -> Sd3TextEncoders:
        """A1111's name for the text encoders (``SD3Cond``)."""
        return self.text_encoders

    @property
    def device(self) -> torch.device:
        return self.model.diffusion_model.context_embedder.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.diffusion_model.dtype

    @property
    def flow_sigmas(self) -> torch.Tensor:
        """The 1000 sigmas of the discrete flow schedule, ascending, on the model's device."""
        if self._sigmas.device != self.device:
            self._sigmas = self._sigmas.to(self.device)
        return self._sigmas

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return 1 / (self.flow_sigmas ** 2 + 1)

    def get_learned_conditioning(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Prompts -> ``{"crossattn": [B, 154 * chunks, 4096], "vector": [B, 2048]}``."""
        return self.text_encoders(list(texts))

    def apply_model(self, x: torch.Tensor, sigma: torch.Tensor, cond: Mapping[str, Any]) -> torch.Tensor:
        """Denoised latent ``x - sigma * v(x, 1000 sigma)`` (A1111's ``BaseModel.apply_model``), in float32."""
        net = self.model.diffusion_model
        sigma = sigma.to(x.device, torch.float32).reshape(-1)
        if sigma.numel() == 1 and x.shape[0] > 1:
            sigma = sigma.expand(x.shape[0])
        v = net(x, sigma * 1000, context=cond["crossattn"], y=cond["vector"]).float()
        return x - v * sigma.view(-1, *([1] * (x.ndim - 1)))

    def add_noise_to_latent(self, x: torch.Tensor, noise: torch.Tensor, amount: torch.Tensor | float) -> torch.Tensor:
        """img2img's start: the flow interpolation ``(1 - sigma) x + sigma noise``."""
        return x * (1 - amount) + noise * amount

    def fix_dimensions(self, width: int, height: int) -> tuple[int, int]:
        """Sizes the MMDiT takes: multiples of 16 pixels (2x2 patches of 8x latents)."""
        return width // 16 * 16, height // 16 * 16

    def decode_first_stage(self, z: torch.Tensor) -> torch.Tensor:
        """Latents -> image in [-1, 1], in the VAE's dtype."""
        return self.first_stage_model.decode(z / self.scale_factor + self.shift_factor)

    def encode_first_stage(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Image in [-1, 1] -> latents (a sample of the posterior, shifted and scaled)."""
        posterior: DiagonalGaussian = self.first_stage_model.encode(x)
        return (posterior.sample(generator) - self.shift_factor) * self.scale_factor

    def get_first_stage_encoding(self, encoded: torch.Tensor) -> torch.Tensor:
        return encoded
