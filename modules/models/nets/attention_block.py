"""LDM's ``AttentionBlock``: self-attention over pixels, the UNet attention of the models before SD.

The latent-diffusion upscaler (LDSR) and the other CompVis LDM models build it
where ``use_spatial_transformer`` is off.  Keys: ``norm``, ``qkv`` (a 1x1 Conv1d
to 3x channels) and ``proj_out``.  The projections are laid out as LDM's
``QKVAttentionLegacy`` reads them: per head, its q, k and v channels in a row.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modules.models.nets.common import GroupNorm32


class AttentionBlock(nn.Module):
    """Spatial self-attention with ``channels // head_channels`` heads (LDM ``AttentionBlock``, legacy order)."""

    takes_context = False

    def __init__(self, channels: int, num_heads: int = 1, head_channels: int = -1) -> None:
        super().__init__()
        self.channels = channels
        self.num_heads = num_heads if head_channels == -1 else channels // head_channels
        if channels % self.num_heads:
            raise ValueError(f"{channels} channels do not split into {self.num_heads} heads")
        self.norm = GroupNorm32(32, channels)
        self.qkv = nn.Conv1d(channels, channels * 3, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, *spatial = x.shape
        flat = x.reshape(b, c, -1)
        qkv = self.qkv(self.norm(flat))
        length = qkv.shape[-1]
        head = c // self.num_heads
        # legacy order: [head 0: q k v, head 1: q k v, ...]; to (b, heads, length, head) for SDPA
        q, k, v = qkv.reshape(b, self.num_heads, 3, head, length).permute(2, 0, 1, 4, 3)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.permute(0, 1, 3, 2).reshape(b, c, length)
        return (flat + self.proj_out(out)).reshape(b, c, *spatial)
