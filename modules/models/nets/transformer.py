"""The UNet's spatial transformer (LDM ``SpatialTransformer`` and friends) with checkpoint names."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from modules.models.attention import AttentionStrategy, SdpaAttention
from modules.models.nets.common import GroupNorm32


class CrossAttention(nn.Module):
    """Multi-head attention; self-attention when no context is given.

    ``context_hook``, when set on an instance (see :func:`set_context_hook`), maps
    the context to the two inputs of ``to_k`` and ``to_v`` (A1111 hypernetworks
    transform them there); it must be a plain callable, not an ``nn.Module``, so
    that it never joins the model's state dict.
    """

    uses_attention_strategy = True
    context_hook: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None

    def __init__(self, query_dim: int, context_dim: int | None, heads: int, dim_head: int,
                 attention: AttentionStrategy | None = None) -> None:
        super().__init__()
        inner = heads * dim_head
        context_dim = context_dim or query_dim
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, query_dim), nn.Dropout(0.0))
        self.attention = attention or SdpaAttention()

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        if self.context_hook is None:
            context_k = context_v = context
        else:
            context_k, context_v = self.context_hook(context)
        out = self.attention(self.to_q(x), self.to_k(context_k), self.to_v(context_v), self.heads)
        return self.to_out(out)


def set_context_hook(module: nn.Module, hook: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None) -> int:
    """Give every :class:`CrossAttention` under ``module`` the same context hook (``None`` removes it);
    returns how many.  Only instance attributes change, never the class."""
    count = 0
    for sub in module.modules():
        if isinstance(sub, CrossAttention):
            if hook is None:
                sub.__dict__.pop("context_hook", None)
            else:
                sub.context_hook = hook
            count += 1
    return count


class GEGLU(nn.Module):
    """Gated GELU projection: one linear layer produces value and gate."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)
        return F.gelu(gate).mul_(value)


class FeedForward(nn.Module):
    """GEGLU feed-forward with 4x inner width (keys ``net.0.proj``, ``net.2``)."""

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        inner = dim * mult
        self.net = nn.Sequential(GEGLU(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BasicTransformerBlock(nn.Module):
    """Self-attention, cross-attention, feed-forward; each pre-normed and residual."""

    def __init__(self, dim: int, heads: int, dim_head: int, context_dim: int | None,
                 attention: AttentionStrategy | None = None) -> None:
        super().__init__()
        self.attn1 = CrossAttention(dim, None, heads, dim_head, attention)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, context_dim, heads, dim_head, attention)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        # Residuals are added in place into each sub-layer's fresh output (saves one buffer per add).
        h = self.attn1(self.norm1(x))
        h += x
        x = self.attn2(self.norm2(h), context)
        x += h
        h = self.ff(self.norm3(x))
        h += x
        return h


class SpatialTransformer(nn.Module):
    """Image-to-token transformer: norm, project in, N blocks, project out, residual.

    SD1 projects with 1x1 convolutions, SD2/SDXL with linear layers
    (``use_linear``); the checkpoint's weight shapes differ accordingly.
    """

    takes_context = True

    def __init__(self, in_channels: int, heads: int, dim_head: int, depth: int = 1,
                 context_dim: int | None = None, use_linear: bool = False,
                 attention: AttentionStrategy | None = None) -> None:
        super().__init__()
        inner = heads * dim_head
        self.use_linear = use_linear
        self.norm = GroupNorm32(32, in_channels, eps=1e-6)
        if use_linear:
            self.proj_in: nn.Module = nn.Linear(in_channels, inner)
            self.proj_out: nn.Module = nn.Linear(inner, in_channels)
        else:
            self.proj_in = nn.Conv2d(in_channels, inner, 1)
            self.proj_out = nn.Conv2d(inner, in_channels, 1)
        self.transformer_blocks = nn.ModuleList(
            BasicTransformerBlock(inner, heads, dim_head, context_dim, attention) for _ in range(depth))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        residual = x
        x = self.norm(x)
        if not self.use_linear:
            x = self.proj_in(x)
        x = x.flatten(2).transpose(1, 2)
        if self.use_linear:
            x = self.proj_in(x)
        for block in self.transformer_blocks:
            x = block(x, context)
        if self.use_linear:
            x = self.proj_out(x)
        # reshape alone would give a channels-last view; convolutions on it pay a layout copy each time.
        x = x.transpose(1, 2).reshape(b, -1, h, w).contiguous()
        if not self.use_linear:
            x = self.proj_out(x)
        x += residual
        return x
