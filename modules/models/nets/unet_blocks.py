"""UNet building blocks with LDM's attribute names (ResBlock, Downsample; Upsample is shared with the VAE in
:mod:`modules.models.nets.common`)."""
from __future__ import annotations

import torch
from torch import nn

from modules.models.nets.common import GroupNorm32, Upsample

__all__ = ["Downsample", "ResBlock", "TimestepEmbedSequential", "Upsample"]


class ResBlock(nn.Module):
    """Residual block conditioned on the timestep embedding (LDM ``ResBlock``)."""

    def __init__(self, channels: int, emb_channels: int, out_channels: int | None = None) -> None:
        super().__init__()
        out_channels = out_channels or channels
        self.channels = channels
        self.out_channels = out_channels
        # In-place SiLU is safe after a norm (its output has no other reader) and saves a full-size buffer.
        self.in_layers = nn.Sequential(
            GroupNorm32(32, channels), nn.SiLU(inplace=True), nn.Conv2d(channels, out_channels, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, out_channels))
        self.out_layers = nn.Sequential(
            GroupNorm32(32, out_channels), nn.SiLU(inplace=True), nn.Dropout(0.0),
            nn.Conv2d(out_channels, out_channels, 3, padding=1))
        if out_channels == channels:
            self.skip_connection: nn.Module = nn.Identity()
        else:
            self.skip_connection = nn.Conv2d(channels, out_channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x)
        h += self.emb_layers(emb).to(h.dtype)[:, :, None, None]
        h = self.out_layers(h)
        h += self.skip_connection(x)
        return h


class Downsample(nn.Module):
    """Stride-2 3x3 convolution (LDM ``Downsample`` with ``use_conv``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class TimestepEmbedSequential(nn.Sequential):
    """A sequence that feeds the timestep embedding to ResBlocks and the context to transformers."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self:
            if isinstance(layer, ResBlock):
                x = layer(x, emb)
            elif getattr(layer, "takes_context", False):
                x = layer(x, context)
            else:
                x = layer(x)
        return x
