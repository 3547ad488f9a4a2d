"""OpenCLIP text towers (SD2's ViT-H ``cond_stage_model.model``, SDXL's ViT-bigG ``embedders.N.model``).

Attribute names follow open_clip's ``CLIP`` with the visual tower removed
(``token_embedding``, ``positional_embedding``, ``transformer.resblocks.N``,
``ln_final``, ``text_projection``), so checkpoints load as they are.  The
checkpoints' unused ``logit_scale`` is dropped at the load boundary.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from modules.models.attention import AttentionStrategy, SdpaAttention
from modules.models.nets.text_chunks import ChunkedTextEmbedder
from modules.models.tokenizer import VOCAB_SIZE

OPEN_CLIP_ARCHS: dict[str, dict[str, int]] = {
    "ViT-H-14": dict(width=1024, heads=16, layers=24, embed_dim=1024),
    "ViT-bigG-14": dict(width=1280, heads=20, layers=32, embed_dim=1280),
}
"""open_clip architecture names a YAML may give as ``arch``, with their text-tower sizes."""


class OpenClipAttention(nn.Module):
    """Causal multi-head self-attention with ``nn.MultiheadAttention``'s parameter names."""

    uses_attention_strategy = True

    def __init__(self, width: int, heads: int, attention: AttentionStrategy | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * width))
        self.out_proj = nn.Linear(width, width)
        self.attention = attention or SdpaAttention()
        if not self.in_proj_weight.is_meta:
            nn.init.xavier_uniform_(self.in_proj_weight)
            nn.init.zeros_(self.in_proj_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        return self.out_proj(self.attention(q, k, v, self.heads, causal=True))


class ResidualAttentionBlock(nn.Module):
    """Pre-norm attention and GELU MLP (``mlp.c_fc``, ``mlp.c_proj``)."""

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0,
                 attention: AttentionStrategy | None = None) -> None:
        super().__init__()
        hidden = int(width * mlp_ratio)
        self.ln_1 = nn.LayerNorm(width)
        self.attn = OpenClipAttention(width, heads, attention)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, hidden))
        self.mlp.add_module("gelu", nn.GELU())
        self.mlp.add_module("c_proj", nn.Linear(hidden, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class _Resblocks(nn.Module):
    def __init__(self, width: int, heads: int, layers: int, attention: AttentionStrategy | None) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads, attention=attention) for _ in range(layers))


class OpenClipTextModel(nn.Module):
    """The text half of an open_clip ``CLIP`` model (batch-first)."""

    def __init__(self, width: int, heads: int, layers: int, embed_dim: int, context_length: int = 77,
                 vocab_size: int = VOCAB_SIZE, attention: AttentionStrategy | None = None) -> None:
        super().__init__()
        self.width = width
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.transformer = _Resblocks(width, heads, layers, attention)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, embed_dim))
        if not self.positional_embedding.is_meta:
            nn.init.normal_(self.positional_embedding, std=0.01)
            nn.init.normal_(self.text_projection, std=width ** -0.5)

    def run(self, tokens: torch.Tensor, skip_last: int = 0, need_final: bool = False,
            inputs_embeds: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Embed and run the blocks; returns (output of block ``L-1-skip_last``, final block output).

        Blocks after the kept one run only when ``need_final`` (the pooled
        vector needs them); otherwise the second value is None.
        ``inputs_embeds`` replaces the token-table lookup of ``tokens``.
        """
        embedded = self.token_embedding(tokens) if inputs_embeds is None else inputs_embeds
        x = embedded + self.positional_embedding.to(self.token_embedding.weight.dtype)
        blocks = self.transformer.resblocks
        keep_at = len(blocks) - 1 - skip_last
        kept = None
        for i, block in enumerate(blocks):
            if i > keep_at and not need_final:
                break
            x = block(x)
            if i == keep_at:
                kept = x
        return kept, (x if need_final else None)

    def pool(self, final: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Project the final-normed state at each row's end token (the highest id) to ``embed_dim``."""
        normed = self.ln_final(final)
        picked = normed[torch.arange(normed.shape[0], device=normed.device), tokens.argmax(dim=-1)]
        return picked @ self.text_projection


class OpenClipEmbedder(ChunkedTextEmbedder, nn.Module):
    """LDM ``FrozenOpenCLIPEmbedder`` (SD2) and SGM ``FrozenOpenCLIPEmbedder2`` (SDXL).

    ``layer="penultimate"`` takes the output of the second-to-last block.
    ``legacy=True`` (SD2) passes it through ``ln_final``; SDXL (``legacy=False``)
    uses it raw and also returns the pooled, projected end-token vector.
    """

    pad_id = 0  # open_clip pads with zeros after the end token
    unescape_html = True

    def __init__(self, arch: str = "ViT-H-14", layer: str = "last", legacy: bool = True,
                 always_return_pooled: bool = False, attention: AttentionStrategy | None = None,
                 **sizes: Any) -> None:
        super().__init__()
        if layer not in ("last", "penultimate"):
            raise ValueError(f"unknown OpenCLIP layer {layer!r}")
        if arch not in OPEN_CLIP_ARCHS:
            raise ValueError(f"unknown OpenCLIP arch {arch!r}; known: {sorted(OPEN_CLIP_ARCHS)}")
        self.layer = layer
        self.legacy = legacy
        self.always_return_pooled = always_return_pooled
        self.model = OpenClipTextModel(**{**OPEN_CLIP_ARCHS[arch], **sizes}, attention=attention)

    @property
    def width(self) -> int:
        return self.model.width

    @property
    def token_embedding(self) -> nn.Embedding:
        """The id -> vector table (textual-inversion vectors replace its output rows)."""
        return self.model.token_embedding

    def encode_tokens(self, tokens: torch.Tensor, clip_skip: int | None = None,
                      inputs_embeds: torch.Tensor | None = None) -> Any:
        """``[batch, 77]`` ids -> ``[batch, 77, width]``, plus the pooled vector when ``always_return_pooled``.

        ``clip_skip`` is accepted and ignored: A1111's CLIP skip has no effect on OpenCLIP.
        ``inputs_embeds`` replaces the token-table lookup (textual-inversion
        vectors); the pooled vector is still taken at the end token of ``tokens``.
        """
        tokens = tokens.to(self.model.token_embedding.weight.device)
        skip = 1 if self.layer == "penultimate" else 0
        kept, final = self.model.run(tokens, skip_last=skip, need_final=self.always_return_pooled,
                                     inputs_embeds=inputs_embeds)
        z = self.model.ln_final(kept) if self.legacy else kept
        if self.always_return_pooled:
            return z, self.model.pool(final, tokens)
        return z
