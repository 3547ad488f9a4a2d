"""``AutoencoderKL`` (``first_stage_model.*``): encoder, decoder and the two 1x1 quant convs (SD3's VAE has none)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from modules.models.attention import AttentionStrategy
from modules.models.nets.vae import Decoder, Encoder


class DiagonalGaussian:
    """The encoder's posterior: a diagonal Gaussian from stacked mean / log-variance."""

    def __init__(self, moments: torch.Tensor) -> None:
        self.mean, logvar = moments.chunk(2, dim=1)
        # LDM clamps the log-variance so exp() stays finite in fp16.
        self.logvar = logvar.clamp(-30.0, 20.0)
        self.std = torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * noise

    def mode(self) -> torch.Tensor:
        return self.mean


class AutoencoderKL(nn.Module):
    """KL-regularised autoencoder; ``encode`` returns the posterior, ``decode`` an image in [-1, 1]."""

    def __init__(self, embed_dim: int, ch: int, ch_mult: Sequence[int], num_res_blocks: int,
                 z_channels: int, in_channels: int = 3, out_ch: int = 3, double_z: bool = True,
                 attention: AttentionStrategy | None = None, use_quant_conv: bool = True) -> None:
        super().__init__()
        if not double_z:
            raise ValueError("AutoencoderKL needs double_z (mean and log-variance)")
        self.embed_dim = embed_dim
        self.encoder = Encoder(ch, ch_mult, num_res_blocks, in_channels, z_channels, double_z, attention)
        self.decoder = Decoder(ch, ch_mult, num_res_blocks, out_ch, z_channels, attention)
        if use_quant_conv:
            self.quant_conv = nn.Conv2d(2 * z_channels, 2 * embed_dim, 1)
            self.post_quant_conv = nn.Conv2d(embed_dim, z_channels, 1)
        elif embed_dim != z_channels:
            raise ValueError("without quant convs the latent width (embed_dim) must equal z_channels")

    @property
    def dtype(self) -> torch.dtype:
        return self.decoder.conv_in.weight.dtype

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        moments = self.encoder(x.to(self.dtype))
        return DiagonalGaussian(self.quant_conv(moments) if hasattr(self, "quant_conv") else moments)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        z = z.to(self.dtype)
        return self.decoder(self.post_quant_conv(z) if hasattr(self, "post_quant_conv") else z)
