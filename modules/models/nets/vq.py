"""LDM's vector-quantised autoencoder (``VQModelInterface``, ``first_stage_model.*``), the LDSR upscaler's.

The encoder and decoder are the KL VAE's (single ``z`` instead of moments);
``quantize.embedding`` is the codebook.  ``decode`` snaps each latent pixel to
its nearest codebook entry first, as LDM's ``VQModelInterface.decode`` does
unless told not to.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from modules.models.attention import AttentionStrategy
from modules.models.nets.vae import Decoder, Encoder


class VectorQuantizer(nn.Module):
    """Nearest-codebook-entry lookup (taming's ``VectorQuantizer2`` at inference, legacy layout)."""

    def __init__(self, n_embed: int, embed_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_embed, embed_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, c, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, c)
        book = self.embedding.weight
        # the same expansion of |z - e|^2 as taming's, so ties fall on the same entries
        distance = (flat ** 2).sum(1, keepdim=True) + (book ** 2).sum(1) - 2 * flat @ book.t()
        quantized = self.embedding(distance.argmin(1))
        return quantized.reshape(b, h, w, c).permute(0, 3, 1, 2).to(z.dtype)


class VQModel(nn.Module):
    """``encode`` gives the (unquantised) latent, ``decode`` an image in [-1, 1]."""

    def __init__(self, embed_dim: int, n_embed: int, ch: int, ch_mult: Sequence[int], num_res_blocks: int,
                 z_channels: int, in_channels: int = 3, out_ch: int = 3,
                 attention: AttentionStrategy | None = None) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.encoder = Encoder(ch, ch_mult, num_res_blocks, in_channels, z_channels, False, attention)
        self.decoder = Decoder(ch, ch_mult, num_res_blocks, out_ch, z_channels, attention)
        self.quantize = VectorQuantizer(n_embed, embed_dim)
        self.quant_conv = nn.Conv2d(z_channels, embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, z_channels, 1)

    @property
    def dtype(self) -> torch.dtype:
        return self.decoder.conv_in.weight.dtype

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.quant_conv(self.encoder(x.to(self.dtype)))

    def decode(self, h: torch.Tensor, force_not_quantize: bool = False) -> torch.Tensor:
        h = h.to(self.dtype)
        if not force_not_quantize:
            h = self.quantize(h)
        return self.decoder(self.post_quant_conv(h))
