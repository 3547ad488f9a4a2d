"""OpenAI CLIP (the ``ViT-L/14`` the CLIP interrogator ranks words with), attribute paths as in the released file.

The keys are those of OpenAI's ``CLIP`` module (``visual.conv1``, ``visual.transformer.resblocks.N``,
``transformer.resblocks.N``, ``token_embedding``, ``text_projection``...), so a state dict read from
``ViT-L-14.pt`` loads as it is.  OpenAI's towers use QuickGELU; the blocks are those of
:mod:`modules.models.nets.clip_image` (the unCLIP image towers), with QuickGELU chosen.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from modules.models.nets.clip_image import Transformer as Blocks
from modules.models.nets.clip_image import VisionTransformer

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


class Transformer(Blocks):
    """A stack of QuickGELU blocks (``resblocks.N``), batch first, causal or not for good (the text tower is)."""

    def __init__(self, width: int, layers: int, heads: int, causal: bool) -> None:
        super().__init__(width, layers, heads, quick_gelu=True, attention=None)
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x, self.causal)


def vision_transformer(config: ClipConfig) -> VisionTransformer:
    """The image tower of ``config``: patches, class token, QuickGELU blocks, the class token's projection."""
    return VisionTransformer(config.vision_width, config.vision_layers, config.vision_heads, config.vision_patch_size,
                             config.image_resolution, config.embed_dim, quick_gelu=True)


class ClipModel(nn.Module):
    """Both towers; :meth:`encode_image` and :meth:`encode_text` give the (unnormalised) embeddings."""

    def __init__(self, config: ClipConfig = VIT_L_14) -> None:
        super().__init__()
        self.config = config
        self.visual = vision_transformer(config)
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
