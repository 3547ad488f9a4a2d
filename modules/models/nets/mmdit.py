"""SD3's multimodal diffusion transformer (MMDiT, Esser et al. 2024, arXiv:2403.03206), our own code.

Attribute paths are the keys of the released single-file checkpoints under
``model.diffusion_model.``: ``x_embedder.proj``, ``pos_embed``, ``t_embedder.mlp``,
``y_embedder.mlp``, ``context_embedder``, ``joint_blocks.N.{x_block,context_block}``
and ``final_layer``.  Image patches and text tokens each have their own weights
(a "block" per stream) but attend jointly: one attention over the text tokens
followed by the image tokens.  Every block is modulated (adaLN) by the sum of the
timestep and pooled-text embeddings.  The last block's text stream is "pre only":
its tokens are keys and values for the image, and nothing of it is kept.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from modules.models.nets.common import timestep_embedding

HEAD_WIDTH = 64
"""SD3 ties the width to the depth: hidden size = 64 x depth, one 64-wide head per block."""


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: ``x * (1 + scale) + shift`` with per-sample ``shift``/``scale`` broadcast over the tokens."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def _compute_dtype(layer: nn.Module) -> torch.dtype:
    # an FP8-stored layer (models/fp8_storage.py) computes in the dtype it records, not its weight's
    return getattr(layer, "compute_dtype", None) or layer.weight.dtype


def _plain_norm(width: int) -> nn.LayerNorm:
    # no affine weights: the adaLN modulation supplies scale and shift
    return nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)


class PatchEmbed(nn.Module):
    """``patch x patch`` patches of the latent, each projected to one token (``x_embedder.proj``)."""

    def __init__(self, patch_size: int, in_channels: int, width: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, width, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class MlpEmbedder(nn.Module):
    """``mlp.0`` -> SiLU -> ``mlp.2``: the timestep (after its sinusoidal features) and pooled-text embedders."""

    def __init__(self, in_features: int, width: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_features, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class TimestepEmbedder(MlpEmbedder):
    """Sinusoidal features of the (fractional, 0..1000) timestep, then the MLP."""

    FREQUENCIES = 256

    def __init__(self, width: int) -> None:
        super().__init__(self.FREQUENCIES, width)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        features = timestep_embedding(t, self.FREQUENCIES).to(_compute_dtype(self.mlp[0]))
        return self.mlp(features)


class Mlp(nn.Module):
    """``fc1`` -> GELU (tanh approximation) -> ``fc2``."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class StreamAttention(nn.Module):
    """One stream's share of the joint attention: fused ``qkv`` in, ``proj`` out (absent when pre-only)."""

    def __init__(self, width: int, heads: int, pre_only: bool) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        if not pre_only:
            self.proj = nn.Linear(width, width)

    def split_qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``[B, L, W]`` -> q, k, v each ``[B, heads, L, W / heads]`` (the weight rows are q | k | v)."""
        b, length, _ = x.shape
        qkv = self.qkv(x).view(b, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]


class StreamBlock(nn.Module):
    """One stream (image ``x_block`` or text ``context_block``) of a joint block: adaLN, attention, MLP."""

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0, pre_only: bool = False) -> None:
        super().__init__()
        self.pre_only = pre_only
        self.norm1 = _plain_norm(width)
        self.attn = StreamAttention(width, heads, pre_only)
        if not pre_only:
            self.norm2 = _plain_norm(width)
            self.mlp = Mlp(width, int(width * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, (2 if pre_only else 6) * width))

    def pre_attention(self, x: torch.Tensor,
                      c: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """``(q, k, v)`` of the modulated tokens and the modulation still needed after attention."""
        mod = self.adaLN_modulation(c).chunk(2 if self.pre_only else 6, dim=1)
        qkv = self.attn.split_qkv(modulate(self.norm1(x), mod[0], mod[1]))
        return qkv, mod[2:]

    def post_attention(self, attn: torch.Tensor, x: torch.Tensor, mod: tuple[torch.Tensor, ...]) -> torch.Tensor:
        gate_msa, shift_mlp, scale_mlp, gate_mlp = mod
        x = x + gate_msa.unsqueeze(1) * self.attn.proj(attn)
        return x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


class JointBlock(nn.Module):
    """Text and image streams attending together (text tokens first in the joint sequence)."""

    def __init__(self, width: int, heads: int, pre_only: bool = False) -> None:
        super().__init__()
        self.context_block = StreamBlock(width, heads, pre_only=pre_only)
        self.x_block = StreamBlock(width, heads)

    def forward(self, context: torch.Tensor, x: torch.Tensor,
                c: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        (cq, ck, cv), c_mod = self.context_block.pre_attention(context, c)
        (xq, xk, xv), x_mod = self.x_block.pre_attention(x, c)
        q, k, v = (torch.cat(pair, dim=2) for pair in ((cq, xq), (ck, xk), (cv, xv)))
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).flatten(2)
        n_context = context.shape[1]
        x = self.x_block.post_attention(out[:, n_context:], x, x_mod)
        if self.context_block.pre_only:
            return None, x
        return self.context_block.post_attention(out[:, :n_context], context, c_mod), x


class FinalLayer(nn.Module):
    """adaLN (shift, scale) then a projection of each token back to a ``patch x patch x channels`` patch."""

    def __init__(self, width: int, patch_size: int, out_channels: int) -> None:
        super().__init__()
        self.norm_final = _plain_norm(width)
        self.linear = nn.Linear(width, patch_size * patch_size * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class MMDiT(nn.Module):
    """The SD3 network: ``forward(x, t, context, y)`` -> the flow (velocity) prediction, shaped like ``x``.

    ``x`` is the ``[B, in_channels, H, W]`` latent, ``t`` the timestep (sigma x 1000),
    ``context`` the ``[B, L, context_dim]`` token sequence and ``y`` the ``[B, adm_in_channels]``
    pooled text vector.  ``pos_embed`` holds a ``pos_embed_max_size``-square grid of
    position embeddings; a smaller latent uses its centre.
    """

    def __init__(self, depth: int, patch_size: int = 2, in_channels: int = 16, pos_embed_max_size: int = 192,
                 adm_in_channels: int = 2048, context_dim: int = 4096, head_width: int = HEAD_WIDTH) -> None:
        super().__init__()
        width = head_width * depth
        self.depth = depth
        self.patch_size = patch_size
        self.in_channels = in_channels
        self.out_channels = in_channels
        self.pos_embed_max_size = pos_embed_max_size
        self.x_embedder = PatchEmbed(patch_size, in_channels, width)
        self.t_embedder = TimestepEmbedder(width)
        self.y_embedder = MlpEmbedder(adm_in_channels, width)
        self.context_embedder = nn.Linear(context_dim, width)
        self.pos_embed = nn.Parameter(torch.zeros(1, pos_embed_max_size ** 2, width), requires_grad=False)
        self.joint_blocks = nn.ModuleList(JointBlock(width, depth, pre_only=i == depth - 1) for i in range(depth))
        self.final_layer = FinalLayer(width, patch_size, self.out_channels)

    @property
    def dtype(self) -> torch.dtype:
        return _compute_dtype(self.context_embedder)

    def cropped_pos_embed(self, h: int, w: int) -> torch.Tensor:
        """The centre ``h x w`` of the position grid (in patches), flattened to ``[1, h * w, width]``."""
        size = self.pos_embed_max_size
        if h > size or w > size:
            raise ValueError(f"latent of {h}x{w} patches is larger than this model's {size}x{size} position grid")
        top, left = (size - h) // 2, (size - w) // 2
        grid = self.pos_embed.view(1, size, size, -1)
        return grid[:, top:top + h, left:left + w, :].reshape(1, h * w, -1)

    def unpatchify(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """``[B, h * w, p * p * C]`` -> ``[B, C, h * p, w * p]``."""
        p, c = self.patch_size, self.out_channels
        x = x.view(x.shape[0], h, w, p, p, c)
        return torch.einsum("nhwpqc->nchpwq", x).reshape(x.shape[0], c, h * p, w * p)

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        p = self.patch_size
        if height % p or width % p:
            # a size the UI allows (8-pixel steps) but the patches do not cover: repeat the edge, crop the output
            x = F.pad(x, (0, -width % p, 0, -height % p), mode="replicate")
        h, w = -(-height // p), -(-width // p)
        dtype = self.dtype
        tokens = self.x_embedder(x.to(dtype)) + self.cropped_pos_embed(h, w).to(dtype)
        c = self.t_embedder(t) + self.y_embedder(y.to(dtype))
        ctx: torch.Tensor | None = self.context_embedder(context.to(dtype))
        for block in self.joint_blocks:
            ctx, tokens = block(ctx, tokens, c)
        return self.unpatchify(self.final_layer(tokens, c), h, w)[:, :, :height, :width]


def mmdit_sizes(shapes: dict[str, tuple[int, ...]], prefix: str = "model.diffusion_model.") -> dict[str, int]:
    """:class:`MMDiT` arguments read from a checkpoint's tensor shapes (as A1111 reads them)."""
    proj = shapes[f"{prefix}x_embedder.proj.weight"]
    width, in_channels, patch_size = proj[0], proj[1], proj[2]
    depth = sum(1 for k in shapes if k.startswith(f"{prefix}joint_blocks.") and k.endswith(".x_block.attn.qkv.weight"))
    if depth == 0 or width % depth:
        raise ValueError(f"{prefix}: cannot read the MMDiT depth from the checkpoint (width {width}, {depth} blocks)")
    grid = math.isqrt(shapes[f"{prefix}pos_embed"][1])
    return dict(depth=depth, patch_size=patch_size, in_channels=in_channels, pos_embed_max_size=grid,
                adm_in_channels=shapes[f"{prefix}y_embedder.mlp.0.weight"][1],
                context_dim=shapes[f"{prefix}context_embedder.weight"][1], head_width=width // depth)
