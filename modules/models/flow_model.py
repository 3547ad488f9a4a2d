"""What SD3 and Flux share as loaded models: a flow-matching transformer at ``model.diffusion_model``, a 16-channel
VAE whose latents are shifted and scaled, and text encoders called with a list of prompts.

A subclass builds its parts, names its family flags (``is_sd3``, ``is_flux``), and says how its transformer is
called (:meth:`apply_model`) and where its weights live (:attr:`device`); everything the pipeline calls besides
is the same for both and lives here.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from modules.models.nets.autoencoder import DiagonalGaussian


class DiffusionWrapper(nn.Module):
    """Holds the transformer at ``model.diffusion_model`` (the checkpoint path)."""

    def __init__(self, diffusion_model: nn.Module) -> None:
        super().__init__()
        self.diffusion_model = diffusion_model
        self.conditioning_key = "crossattn"


class FlowLatentModel(nn.Module):
    """The calls the pipeline and extensions make on ``shared.sd_model``, with a flow model's meaning.

    Subclasses set ``model`` (a :class:`DiffusionWrapper`), ``first_stage_model``, ``text_encoders``,
    ``scale_factor`` / ``shift_factor`` (the VAE's), ``flow_shift`` and ``_sigmas`` (the ascending schedule).
    """

    is_sdxl = False
    is_sd2 = False
    is_sd1 = False
    is_ssd = False
    is_sd3 = False
    is_flux = False
    is_sdxl_inpaint = False
    is_refiner = False
    latent_channels = 16
    parameterization = "eps"
    """A1111's value for SD3 (Forge's for Flux); the flow prediction is marked by ``flow_shift``, which the
    sampling layer reads."""
    cond_stage_key = "txt"
    text_conditioning: Any = None
    """Set by the prompting layer when the model is attached to the web UI; None for a bare model."""

    @property
    def cond_stage_model(self) -> nn.Module:
        """A1111's name for the text encoders."""
        return self.text_encoders

    @property
    def dtype(self) -> torch.dtype:
        return self.model.diffusion_model.dtype

    @property
    def flow_sigmas(self) -> torch.Tensor:
        """The sigmas of the discrete flow schedule, ascending, on the model's device."""
        if self._sigmas.device != self.device:
            self._sigmas = self._sigmas.to(self.device)
        return self._sigmas

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        """The schedule's DDPM equivalent ``1 / (sigma^2 + 1)``, as A1111 sets it for SD3."""
        return 1 / (self.flow_sigmas ** 2 + 1)

    def get_learned_conditioning(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Prompts -> ``{"crossattn": token embeddings, "vector": pooled embedding}``."""
        return self.text_encoders(list(texts))

    @staticmethod
    def per_sample_sigma(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """``sigma`` as one float32 value per sample of the batch ``x``."""
        sigma = sigma.to(x.device, torch.float32).reshape(-1)
        if sigma.numel() == 1 and x.shape[0] > 1:
            sigma = sigma.expand(x.shape[0])
        return sigma

    @staticmethod
    def denoised(x: torch.Tensor, v: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The denoised latent ``x - sigma * v`` from the predicted velocity ``v``, in float32."""
        return x - v.float() * sigma.view(-1, *([1] * (x.ndim - 1)))

    def add_noise_to_latent(self, x: torch.Tensor, noise: torch.Tensor, amount: torch.Tensor | float) -> torch.Tensor:
        """img2img's start: the flow interpolation ``(1 - sigma) x + sigma noise``."""
        return x * (1 - amount) + noise * amount

    def fix_dimensions(self, width: int, height: int) -> tuple[int, int]:
        """Sizes the transformer takes: multiples of 16 pixels (2x2 patches of 8x latents)."""
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
