"""The diffusion UNet with LDM/SGM ``UNetModel``'s module tree (``model.diffusion_model.*``).

One class covers SD1 (conv projections, 8 heads), SD2 (linear projections,
64-channel heads), SDXL base/refiner (per-level transformer depth, ``label_emb``
for the pooled-text + size vector) and the 9/8-channel inpainting/edit inputs; with
``use_spatial_transformer`` off, LDM's pixel ``AttentionBlock`` (the LDSR upscaler's UNet).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from modules.models.attention import AttentionStrategy, SdpaAttention
from modules.models.nets.attention_block import AttentionBlock
from modules.models.nets.common import GroupNorm32, timestep_embedding
from modules.models.nets.transformer import SpatialTransformer
from modules.models.nets.unet_blocks import Downsample, ResBlock, TimestepEmbedSequential, Upsample


def _per_level(value: int | Sequence[int], levels: int, name: str) -> list[int]:
    if isinstance(value, int):
        return [value] * levels
    value = list(value)
    if len(value) != levels:
        raise ValueError(f"{name} has {len(value)} entries, expected one per level ({levels})")
    return value



def concat_skip(h: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """``h`` and its skip connection side by side in channels, ``h`` first resized to the skip's size.

    A latent side that is odd after a downsampling (a 96-pixel side is 12 -> 6 -> 3 -> 2 latent
    pixels) comes back one larger from the x2 upsampling than its skip (4 against 3).  A1111 accepts
    every multiple of 8 by resizing the upsampled tensor to the skip's size (nearest) right before the
    concatenation; the same rule here gives A1111's pixels.
    """
    if h.shape[-2:] != skip.shape[-2:]:
        h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
    return torch.cat([h, skip], dim=1)

class UNetModel(nn.Module):
    """LDM UNet.  ``forward(x, timesteps, context, y)`` returns the raw network output (eps or v)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        model_channels: int,
        num_res_blocks: int,
        attention_resolutions: Sequence[int],
        channel_mult: Sequence[int] = (1, 2, 4, 8),
        num_heads: int = -1,
        num_head_channels: int = -1,
        transformer_depth: int | Sequence[int] = 1,
        transformer_depth_middle: int | None = None,
        context_dim: int | Sequence[int] | None = None,
        use_linear_in_transformer: bool = False,
        adm_in_channels: int | None = None,
        attention: AttentionStrategy | None = None,
        use_spatial_transformer: bool = True,
    ) -> None:
        super().__init__()
        if num_heads == -1 and num_head_channels == -1:
            raise ValueError("either num_heads or num_head_channels must be set")
        levels = len(channel_mult)
        depths = _per_level(transformer_depth, levels, "transformer_depth")
        if isinstance(context_dim, Sequence):
            context_dim = list(context_dim)[0]
        depth_middle = depths[-1] if transformer_depth_middle is None else transformer_depth_middle
        attention = attention or SdpaAttention()

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.model_channels = model_channels
        self.adm_in_channels = adm_in_channels
        self.context_dim = context_dim

        def heads_for(ch: int) -> tuple[int, int]:
            if num_head_channels == -1:
                return num_heads, ch // num_heads
            return ch // num_head_channels, num_head_channels

        def transformer(ch: int, depth: int) -> nn.Module:
            heads, dim_head = heads_for(ch)
            if not use_spatial_transformer:
                # LDM's pixel self-attention (no text context): the models before SD, e.g. the LDSR upscaler
                return AttentionBlock(ch, heads)
            return SpatialTransformer(ch, heads, dim_head, depth, context_dim, use_linear_in_transformer, attention)

        time_dim = model_channels * 4
        self.time_embed = nn.Sequential(nn.Linear(model_channels, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        if adm_in_channels is not None:
            # SGM's "sequential" class embedding: nested Sequential gives keys label_emb.0.0 / label_emb.0.2.
            self.label_emb = nn.Sequential(nn.Sequential(
                nn.Linear(adm_in_channels, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim)))

        self.input_blocks = nn.ModuleList([TimestepEmbedSequential(nn.Conv2d(in_channels, model_channels, 3, padding=1))])
        skip_channels = [model_channels]
        ch = model_channels
        ds = 1
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers: list[nn.Module] = [ResBlock(ch, time_dim, mult * model_channels)]
                ch = mult * model_channels
                if ds in attention_resolutions:
                    layers.append(transformer(ch, depths[level]))
                self.input_blocks.append(TimestepEmbedSequential(*layers))
                skip_channels.append(ch)
            if level != levels - 1:
                self.input_blocks.append(TimestepEmbedSequential(Downsample(ch)))
                skip_channels.append(ch)
                ds *= 2

        self.middle_block = TimestepEmbedSequential(
            ResBlock(ch, time_dim), transformer(ch, depth_middle), ResBlock(ch, time_dim))

        self.output_blocks = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mult))):
            for i in range(num_res_blocks + 1):
                layers = [ResBlock(ch + skip_channels.pop(), time_dim, model_channels * mult)]
                ch = model_channels * mult
                if ds in attention_resolutions:
                    layers.append(transformer(ch, depths[level]))
                if level and i == num_res_blocks:
                    layers.append(Upsample(ch))
                    ds //= 2
                self.output_blocks.append(TimestepEmbedSequential(*layers))

        self.out = nn.Sequential(GroupNorm32(32, ch), nn.SiLU(inplace=True), nn.Conv2d(model_channels, out_channels, 3, padding=1))

    @property
    def dtype(self) -> torch.dtype:
        # an FP8-stored layer (models/fp8_storage.py) computes in the dtype it records, not its weight's
        layer = self.time_embed[0]
        return getattr(layer, "compute_dtype", None) or layer.weight.dtype

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor | None = None,
                y: torch.Tensor | None = None) -> torch.Tensor:
        if (y is not None) != (self.adm_in_channels is not None):
            raise ValueError("y (the SDXL vector) must be given exactly when the model has label_emb")
        if timesteps.ndim == 0:
            timesteps = timesteps.expand(x.shape[0])
        dtype = self.dtype
        emb = self.time_embed(timestep_embedding(timesteps, self.model_channels).to(dtype))
        if y is not None:
            emb = emb + self.label_emb(y.to(dtype))
        h = x.to(dtype)
        if context is not None:
            context = context.to(dtype)
        skips = []
        for block in self.input_blocks:
            h = block(h, emb, context)
            skips.append(h)
        h = self.middle_block(h, emb, context)
        for block in self.output_blocks:
            h = block(concat_skip(h, skips.pop()), emb, context)
        return self.out(h).to(x.dtype)
