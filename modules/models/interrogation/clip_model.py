"""OpenAI CLIP (the ``ViT-L/14`` the CLIP interrogator ranks words with), attribute paths as in the released file.

The keys are those of OpenAI's ``CLIP`` module (``visual.conv1``, ``visual.transformer.resblocks.N``,
``transformer.resblocks.N``, ``token_embedding``, ``text_projection``...), so a state dict read from
``ViT-L-14.pt`` loads as it is.  OpenAI's towers use QuickGELU, which is why the blocks here are not
the OpenCLIP blocks of :mod:`modules.models.nets.open_clip_text` (plain GELU).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from modules.models.attention import SdpaAttention

CONTEXT_LENGTH = 77
"""Tokens per text, start and end marks included (``clip.tokenize``)."""


@dataclass(frozen=True)
class ClipConfig:
    """The sizes of one CLIP model (read from its state dict by :func:`config_from_state_dict`)."""

    embed_dim: int
    image_resolution: int
    vision_width: int
    vision_layers: int
    vision_patch_size: int
    context_length: int
    vocab_size: int
    text_width: int
    text_layers: int

    @property
    def vision_heads(self) -> int:
        return self.vision_width // 64

    @property
    def text_heads(self) -> int:
        return self.text_width // 64


VIT_L_14 = ClipConfig(embed_dim=768, image_resolution=224, vision_width=1024, vision_layers=24, vision_patch_size=14,
                      context_length=77, vocab_size=49408, text_width=768, text_layers=12)
"""The interrogator's model (A1111's ``clip_model_name = 'ViT-L/14'``)."""


def config_from_state_dict(sd: dict[str, torch.Tensor]) -> ClipConfig:
    """The sizes of the model a state dict holds (OpenAI's ``build_model`` rules: widths from the shapes)."""
    vision_width = sd["visual.conv1.weight"].shape[0]
    patch = sd["visual.conv1.weight"].shape[-1]
    grid = round((sd["visual.positional_embedding"].shape[0] - 1) ** 0.5)
    return ClipConfig(
        embed_dim=sd["text_projection"].shape[1],
        image_resolution=patch * grid,
        vision_width=vision_width,
        vision_layers=len({k.split(".")[3] for k in sd if k.startswith("visual.transformer.resblocks.")}),
        vision_patch_size=patch,
        context_length=sd["positional_embedding"].shape[0],
        vocab_size=sd["token_embedding.weight"].shape[0],
        text_width=sd["ln_final.weight"].shape[0],
        text_layers=len({k.split(".")[2] for k in sd if k.startswith("transformer.resblocks.")}),
    )


class QuickGELU(nn.Module):
    """OpenAI's sigmoid approximation of GELU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class _Attention(nn.Module):
    """Multi-head attention with ``nn.MultiheadAttention``'s parameter names (``in_proj_weight``, ``out_proj``)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        self.attention = SdpaAttention()
        if not self.in_proj_weight.is_meta:
            nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        return self.out_proj(self.attention(q, k, v, self.heads, causal=causal))


class ResidualAttentionBlock(nn.Module):
    """Pre-norm attention and a QuickGELU MLP (``mlp.c_fc``, ``mlp.c_proj``)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = _Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, width * 4))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(width * 4, width))

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), causal)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A stack of blocks (``resblocks.N``), batch first."""

    def __init__(self, width: int, layers: int, heads: int, causal: bool) -> None:
        super().__init__()
        self.causal = causal
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, self.causal)
        return x


class VisionTransformer(nn.Module):
    """The image tower: patches, class token, blocks, the class token's projection."""

    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        width, patch = config.vision_width, config.vision_patch_size
        grid = config.image_resolution // patch
        self.input_resolution = config.image_resolution
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, config.vision_layers, config.vision_heads, causal=False)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, config.embed_dim))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.conv1(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0, :]) @ self.proj


class ClipModel(nn.Module):
    """Both towers; :meth:`encode_image` and :meth:`encode_text` give the (unnormalised) embeddings."""

    def __init__(self, config: ClipConfig = VIT_L_14) -> None:
        super().__init__()
        self.config = config
        self.visual = VisionTransformer(config)
        self.transformer = Transformer(config.text_width, config.text_layers, config.text_heads, causal=True)
        self.token_embedding = nn.Embedding(config.vocab_size, config.text_width)
        self.positional_embedding = nn.Parameter(torch.zeros(config.context_length, config.text_width))
        self.ln_final = nn.LayerNorm(config.text_width)
        self.text_projection = nn.Parameter(torch.zeros(config.text_width, config.embed_dim))
        self.logit_scale = nn.Parameter(torch.zeros([]))

    @property
    def dtype(self) -> torch.dtype:
        return self.visual.conv1.weight.dtype

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """``[batch, 3, res, res]`` normalised pixels -> ``[batch, embed_dim]``."""
        return self.visual(pixels.to(self.dtype))

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[batch, context]`` token ids -> ``[batch, embed_dim]``, read at each text's end token (the highest id)."""
        x = self.token_embedding(tokens).to(self.dtype) + self.positional_embedding.to(self.dtype)
        x = self.ln_final(self.transformer(x))
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection
