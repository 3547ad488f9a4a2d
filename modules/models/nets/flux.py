"""The Flux.1 transformer (Black Forest Labs, dev / schnell), our own code.

Attribute paths are the keys of the released single-file checkpoints under
``model.diffusion_model.``: ``img_in``, ``txt_in``, ``time_in``, ``vector_in``,
``guidance_in`` (dev only), ``double_blocks.N`` (separate image and text weights,
joint attention), ``single_blocks.N`` (one fused stream over text + image tokens)
and ``final_layer``.  Positions are rotary (RoPE) over three id axes
``(0, row, column)``: text tokens all sit at id 0, each 2x2 latent patch at its
row and column.  Queries and keys are RMS-normed per head before the rotation.
The 16-channel latent is cut into 2x2 patches of 64 values (channel-major).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from modules.models.nets.common import timestep_embedding

FLUX_SIZES = dict(width=3072, heads=24, depth=19, depth_single=38, in_channels=64, context_dim=4096, vec_dim=768,
                  axes_dim=(16, 56, 56), guidance=True)
"""Flux.1 dev at full size (schnell: ``guidance=False``)."""
ROPE_THETA = 10000
TIME_FREQUENCIES = 256
PATCH = 2


def _compute_dtype(layer: nn.Module) -> torch.dtype:
    # an FP8-stored layer (models/fp8_storage.py) computes in the dtype it records, not its weight's
    return getattr(layer, "compute_dtype", None) or layer.weight.dtype


def _plain_norm(width: int) -> nn.LayerNorm:
    # no affine weights: the modulation supplies scale and shift
    return nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)


class MlpEmbedder(nn.Module):
    """``in_layer`` -> SiLU -> ``out_layer`` (timestep, guidance and pooled-text embedders)."""

    def __init__(self, in_features: int, width: int) -> None:
        super().__init__()
        self.in_layer = nn.Linear(in_features, width)
        self.out_layer = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_layer(F.silu(self.in_layer(x)))


class RmsNorm(nn.Module):
    """RMS norm over the head width with a learned ``scale`` (computed in float32)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + 1e-6)
        return normed.to(x.dtype) * self.scale.to(x.dtype)


class QkNorm(nn.Module):
    """``norm.query_norm`` / ``norm.key_norm``."""

    def __init__(self, head_width: int) -> None:
        super().__init__()
        self.query_norm = RmsNorm(head_width)
        self.key_norm = RmsNorm(head_width)


class SelfAttention(nn.Module):
    """A double block's per-stream attention weights: fused ``qkv``, the q/k ``norm`` and ``proj``."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.norm = QkNorm(width // heads)
        self.proj = nn.Linear(width, width)

    def qkv_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return _split_heads(self.qkv(x), self.heads, self.norm)


def _split_heads(qkv: torch.Tensor, heads: int, norm: QkNorm) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[B, L, 3 W]`` (rows q | k | v) -> q, k, v ``[B, heads, L, W / heads]``, q and k normed."""
    b, length, _ = qkv.shape
    q, k, v = qkv.view(b, length, 3, heads, -1).permute(2, 0, 3, 1, 4)
    return norm.query_norm(q), norm.key_norm(k), v


def rope_table(ids: torch.Tensor, axes_dim: tuple[int, ...], theta: int = ROPE_THETA) -> torch.Tensor:
    """``[B, L, axes]`` position ids -> ``[B, 1, L, head_width / 2, 2]`` (cos, sin) of each rotated pair."""
    angles = []
    for axis, dim in enumerate(axes_dim):
        freqs = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64, device=ids.device) / dim)
        angles.append(ids[..., axis].double()[..., None] * freqs)
    angle = torch.cat(angles, dim=-1)
    return torch.stack([angle.cos(), angle.sin()], dim=-1).float().unsqueeze(1)


def apply_rope(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Rotate adjacent pairs ``(x[2i], x[2i+1])`` of each head by the table's angles (in float32)."""
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)
    cos, sin = table[..., 0], table[..., 1]
    a, b = pairs[..., 0], pairs[..., 1]
    return torch.stack([cos * a - sin * b, sin * a + cos * b], dim=-1).flatten(-2).type_as(x)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pe: torch.Tensor) -> torch.Tensor:
    """Rotary joint attention; ``[B, heads, L, D]`` in, ``[B, L, heads * D]`` out."""
    out = F.scaled_dot_product_attention(apply_rope(q, pe), apply_rope(k, pe), v)
    return out.transpose(1, 2).flatten(2)


class Modulation(nn.Module):
    """``lin`` over SiLU(vec): ``count`` shift/scale/gate vectors, each ``[B, 1, W]``."""

    def __init__(self, width: int, count: int) -> None:
        super().__init__()
        self.count = count
        self.lin = nn.Linear(width, count * width)

    def forward(self, vec: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.lin(F.silu(vec))[:, None, :].chunk(self.count, dim=-1)


def _mlp(width: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width))


class DoubleStreamBlock(nn.Module):
    """Image (``img_*``) and text (``txt_*``) streams with their own weights, attending jointly (text first)."""

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        hidden = int(width * mlp_ratio)
        for stream in ("img", "txt"):
            setattr(self, f"{stream}_mod", Modulation(width, 6))
            setattr(self, f"{stream}_norm1", _plain_norm(width))
            setattr(self, f"{stream}_attn", SelfAttention(width, heads))
            setattr(self, f"{stream}_norm2", _plain_norm(width))
            setattr(self, f"{stream}_mlp", _mlp(width, hidden))

    def _stream(self, name: str) -> tuple[Any, ...]:
        """``(mod, norm1, attn, norm2, mlp)`` of the ``img`` or ``txt`` stream."""
        return tuple(getattr(self, f"{name}_{part}") for part in ("mod", "norm1", "attn", "norm2", "mlp"))

    def forward(self, img: torch.Tensor, txt: torch.Tensor, vec: torch.Tensor,
                pe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        streams = []
        for name, x in (("txt", txt), ("img", img)):
            mod, norm1, attn, _, _ = self._stream(name)
            m = mod(vec)
            streams.append((m, attn.qkv_heads((1 + m[1]) * norm1(x) + m[0])))
        q, k, v = (torch.cat([streams[0][1][i], streams[1][1][i]], dim=2) for i in range(3))
        out = attention(q, k, v, pe)
        n_txt = txt.shape[1]
        results = []
        for (name, x), (m, _), part in zip((("txt", txt), ("img", img)), streams, (out[:, :n_txt], out[:, n_txt:])):
            _, _, attn, norm2, mlp = self._stream(name)
            x = x + m[2] * attn.proj(part)
            results.append(x + m[5] * mlp((1 + m[4]) * norm2(x) + m[3]))
        return results[1], results[0]


class SingleStreamBlock(nn.Module):
    """One stream over text + image tokens: ``linear1`` gives q, k, v and the MLP input in one product,
    ``linear2`` maps attention output and MLP activation (joined) back."""

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.heads = heads
        self.width = width
        self.mlp_hidden = int(width * mlp_ratio)
        self.linear1 = nn.Linear(width, 3 * width + self.mlp_hidden)
        self.linear2 = nn.Linear(width + self.mlp_hidden, width)
        self.norm = QkNorm(width // heads)
        self.pre_norm = _plain_norm(width)
        self.modulation = Modulation(width, 3)

    def forward(self, x: torch.Tensor, vec: torch.Tensor, pe: torch.Tensor) -> torch.Tensor:
        shift, scale, gate = self.modulation(vec)
        qkv, mlp = self.linear1((1 + scale) * self.pre_norm(x) + shift).split([3 * self.width, self.mlp_hidden], -1)
        out = attention(*_split_heads(qkv, self.heads, self.norm), pe)
        return x + gate * self.linear2(torch.cat([out, F.gelu(mlp, approximate="tanh")], dim=-1))


class LastLayer(nn.Module):
    """``adaLN_modulation.1`` (shift, scale) then ``linear`` to one 2x2x16 patch per token."""

    def __init__(self, width: int, out_features: int) -> None:
        super().__init__()
        self.norm_final = _plain_norm(width)
        self.linear = nn.Linear(width, out_features)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, x: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(vec).chunk(2, dim=1)
        return self.linear((1 + scale[:, None]) * self.norm_final(x) + shift[:, None])


def patchify(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` -> ``[B, H/2 * W/2, C * 4]`` (each token channel-major, then row, column)."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // PATCH, PATCH, w // PATCH, PATCH)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b, (h // PATCH) * (w // PATCH), c * PATCH * PATCH)


def unpatchify(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`patchify` for an ``h x w``-patch grid."""
    b = x.shape[0]
    x = x.view(b, h, w, -1, PATCH, PATCH)
    return x.permute(0, 3, 1, 4, 2, 5).reshape(b, -1, h * PATCH, w * PATCH)


def image_ids(h: int, w: int, batch: int, device: torch.device | str) -> torch.Tensor:
    """``[B, h * w, 3]`` ids ``(0, row, column)`` of the patch grid."""
    ids = torch.zeros(h, w, 3, device=device)
    ids[..., 1] = torch.arange(h, device=device)[:, None]
    ids[..., 2] = torch.arange(w, device=device)[None, :]
    return ids.reshape(1, h * w, 3).expand(batch, -1, -1)


class FluxTransformer(nn.Module):
    """``forward(x, t, context, y, guidance)`` -> the flow (velocity) prediction, shaped like ``x``.

    ``x`` is the ``[B, 16, H, W]`` latent, ``t`` the flow time sigma in [0, 1], ``context`` the T5
    tokens ``[B, L, context_dim]``, ``y`` CLIP-L's pooled ``[B, vec_dim]`` and ``guidance`` the
    distilled CFG scale per sample (dev; ignored by schnell, which has no ``guidance_in``).
    """

    def __init__(self, width: int = 3072, heads: int = 24, depth: int = 19, depth_single: int = 38,
                 in_channels: int = 64, context_dim: int = 4096, vec_dim: int = 768,
                 axes_dim: tuple[int, ...] | list[int] = (16, 56, 56), guidance: bool = True) -> None:
        super().__init__()
        if sum(axes_dim) != width // heads:
            raise ValueError(f"RoPE axes {list(axes_dim)} must add up to the head width {width // heads}")
        self.width, self.heads, self.axes_dim = width, heads, tuple(axes_dim)
        self.in_channels = in_channels
        self.img_in = nn.Linear(in_channels, width)
        self.time_in = MlpEmbedder(TIME_FREQUENCIES, width)
        self.vector_in = MlpEmbedder(vec_dim, width)
        self.guidance_in = MlpEmbedder(TIME_FREQUENCIES, width) if guidance else None
        self.txt_in = nn.Linear(context_dim, width)
        self.double_blocks = nn.ModuleList(DoubleStreamBlock(width, heads) for _ in range(depth))
        self.single_blocks = nn.ModuleList(SingleStreamBlock(width, heads) for _ in range(depth_single))
        self.final_layer = LastLayer(width, in_channels)

    @property
    def dtype(self) -> torch.dtype:
        return _compute_dtype(self.img_in)

    @property
    def has_guidance(self) -> bool:
        return self.guidance_in is not None

    def _embed_time(self, embedder: MlpEmbedder, t: torch.Tensor) -> torch.Tensor:
        # the released model's sinusoidal features take the time scaled by 1000
        return embedder(timestep_embedding(t * 1000, TIME_FREQUENCIES).to(_compute_dtype(embedder.in_layer)))

    def forward_tokens(self, img: torch.Tensor, img_ids: torch.Tensor, txt: torch.Tensor, txt_ids: torch.Tensor,
                       t: torch.Tensor, y: torch.Tensor, guidance: torch.Tensor | None = None) -> torch.Tensor:
        """The network on packed tokens ``[B, L, 64]`` with explicit ids (what the released reference code takes)."""
        dtype = self.dtype
        img = self.img_in(img.to(dtype))
        vec = self._embed_time(self.time_in, t.reshape(-1).float())
        if self.guidance_in is not None:
            g = guidance if guidance is not None else torch.full_like(t.reshape(-1).float(), 3.5)
            vec = vec + self._embed_time(self.guidance_in, g.reshape(-1).float().to(img.device))
        vec = vec + self.vector_in(y.to(dtype))
        txt = self.txt_in(txt.to(dtype))
        pe = rope_table(torch.cat([txt_ids, img_ids], dim=1), self.axes_dim)
        for block in self.double_blocks:
            img, txt = block(img, txt, vec, pe)
        x = torch.cat([txt, img], dim=1)
        for single in self.single_blocks:
            x = single(x, vec, pe)
        return self.final_layer(x[:, txt.shape[1]:], vec)

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, y: torch.Tensor,
                guidance: torch.Tensor | None = None) -> torch.Tensor:
        height, width = x.shape[-2:]
        if height % PATCH or width % PATCH:
            # a size the UI allows (8-pixel steps) but the patches do not cover: repeat the edge, crop the output
            x = F.pad(x, (0, -width % PATCH, 0, -height % PATCH), mode="replicate")
        h, w = x.shape[-2] // PATCH, x.shape[-1] // PATCH
        b = x.shape[0]
        if t.numel() == 1 and b > 1:
            t = t.reshape(1).expand(b)
        txt_ids = torch.zeros(b, context.shape[1], 3, device=x.device)
        out = self.forward_tokens(patchify(x), image_ids(h, w, b, x.device), context, txt_ids, t, y, guidance)
        return unpatchify(out, h, w)[:, :, :height, :width]


def flux_sizes(shapes: dict[str, tuple[int, ...]], prefix: str = "model.diffusion_model.") -> dict[str, object]:
    """:class:`FluxTransformer` arguments read from a checkpoint's tensor shapes (dev or schnell from
    ``guidance_in``).  The head count is not in the shapes: the q/k norm's width gives the head width."""
    width, in_channels = shapes[f"{prefix}img_in.weight"]
    head_width = shapes[f"{prefix}double_blocks.0.img_attn.norm.query_norm.scale"][0]

    def count(group: str) -> int:
        return len({k.split(".")[0] for k in (k[len(prefix) + len(group) + 1:] for k in shapes
                                               if k.startswith(f"{prefix}{group}."))})

    axes = FLUX_SIZES["axes_dim"] if head_width == 128 else _split_axes(head_width)
    return dict(width=width, heads=width // head_width, depth=count("double_blocks"),
                depth_single=count("single_blocks"), in_channels=in_channels,
                context_dim=shapes[f"{prefix}txt_in.weight"][1],
                vec_dim=shapes[f"{prefix}vector_in.in_layer.weight"][1],
                axes_dim=list(axes), guidance=f"{prefix}guidance_in.in_layer.weight" in shapes)


def _split_axes(head_width: int) -> tuple[int, int, int]:
    """RoPE axes for a non-standard head width: Flux's 1 : 3.5 : 3.5 proportion, in even sizes."""
    side = (head_width * 7 // 16) // 2 * 2
    return head_width - 2 * side, side, side
