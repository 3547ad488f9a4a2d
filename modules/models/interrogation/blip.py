"""Salesforce BLIP's caption model (A1111's ``blip_decoder(image_size=384, vit='base')``), keys as in
``model_base_caption_capfilt_large.pth``.

``visual_encoder`` is BLIP's ViT (``patch_embed.proj``, ``cls_token``, ``pos_embed``, ``blocks.N``
with ``attn.qkv`` / ``attn.proj`` / ``mlp.fc1`` / ``mlp.fc2``, ``norm``; LayerNorm eps 1e-6).
``text_decoder`` is BLIP's ``BertLMHeadModel`` (``bert.embeddings``, ``bert.encoder.layer.N`` with
``attention``, ``crossattention``, ``intermediate``, ``output``; ``cls.predictions``): post-norm BERT
layers whose cross-attention reads the image tokens.  :meth:`BertLMHead.step` runs new tokens with a
per-layer cache of keys and values, which the search in :mod:`.beam_search` reorders between beams.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from modules.models.attention import SdpaAttention

IMAGE_SIZE = 384
"""The captioner's input size (A1111's ``blip_image_eval_size``)."""

PROMPT = "a picture of "
"""The text BLIP's captions start with; it is cut from the answer."""


@dataclass(frozen=True)
class BlipConfig:
    """The sizes of a BLIP caption model."""

    image_size: int = IMAGE_SIZE
    patch_size: int = 16
    vision_width: int = 768
    vision_layers: int = 12
    vision_heads: int = 12
    vocab_size: int = 30524
    text_width: int = 768
    text_layers: int = 12
    text_heads: int = 12
    intermediate_size: int = 3072
    max_positions: int = 512


BLIP_BASE = BlipConfig()
"""``model_base_caption_capfilt_large.pth`` (ViT-B/16 at 384 px, BERT-base decoder with ``[DEC]`` and ``[ENC]``)."""


# --- the vision transformer -------------------------------------------------------------------------------------

class _PatchEmbed(nn.Module):
    def __init__(self, patch: int, width: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, width, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class _VitAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, width * 3)
        self.proj = nn.Linear(width, width)
        self.attention = SdpaAttention()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return self.proj(self.attention(q, k, v, self.heads))


class _Mlp(nn.Module):
    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _VitBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=1e-6)
        self.attn = _VitAttention(width, heads)
        self.norm2 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = _Mlp(width, width * 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """BLIP's ViT: every token's final features (the decoder cross-attends to all of them)."""

    def __init__(self, config: BlipConfig) -> None:
        super().__init__()
        width = config.vision_width
        patches = (config.image_size // config.patch_size) ** 2
        self.patch_embed = _PatchEmbed(config.patch_size, width)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.pos_embed = nn.Parameter(torch.zeros(1, patches + 1, width))
        self.blocks = nn.ModuleList(_VitBlock(width, config.vision_heads) for _ in range(config.vision_layers))
        self.norm = nn.LayerNorm(width, eps=1e-6)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(pixels)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.pos_embed[:, :x.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


# --- the BERT decoder -------------------------------------------------------------------------------------------

LayerCache = dict[str, torch.Tensor]
"""One layer's cached ``self_k``/``self_v`` (the text so far) and ``cross_k``/``cross_v`` (the image)."""


class _Embeddings(nn.Module):
    def __init__(self, config: BlipConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.text_width)
        self.position_embeddings = nn.Embedding(config.max_positions, config.text_width)
        self.LayerNorm = nn.LayerNorm(config.text_width, eps=1e-12)

    def forward(self, ids: torch.Tensor, start: int) -> torch.Tensor:
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(positions))


class _SelfProjections(nn.Module):
    """``query``/``key``/``value`` (keys and values may read another width: the image's)."""

    def __init__(self, width: int, kv_width: int) -> None:
        super().__init__()
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(kv_width, width)
        self.value = nn.Linear(kv_width, width)


class _Output(nn.Module):
    """``dense`` then ``LayerNorm`` over the sum with the block's input (BERT's post-norm residual)."""

    def __init__(self, inner: int, width: int) -> None:
        super().__init__()
        self.dense = nn.Linear(inner, width)
        self.LayerNorm = nn.LayerNorm(width, eps=1e-12)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _Attention(nn.Module):
    def __init__(self, width: int, kv_width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        setattr(self, "self", _SelfProjections(width, kv_width))  # the checkpoint's key is "attention.self"
        self.output = _Output(width, width)
        self.attention = SdpaAttention()

    def forward(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
        q = getattr(self, "self").query(x)
        return self.output(self.attention(q, k, v, self.heads, causal=causal), x)


class _Intermediate(nn.Module):
    def __init__(self, width: int, inner: int) -> None:
        super().__init__()
        self.dense = nn.Linear(width, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))


class _BertLayer(nn.Module):
    def __init__(self, config: BlipConfig) -> None:
        super().__init__()
        width = config.text_width
        self.attention = _Attention(width, width, config.text_heads)
        self.crossattention = _Attention(width, config.vision_width, config.text_heads)
        self.intermediate = _Intermediate(width, config.intermediate_size)
        self.output = _Output(config.intermediate_size, width)

    def forward(self, x: torch.Tensor, cache: LayerCache) -> torch.Tensor:
        proj = getattr(self.attention, "self")
        k, v = proj.key(x), proj.value(x)
        # a first call sees several text tokens at once: causal among them; later calls add one token
        causal = "self_k" not in cache and x.shape[1] > 1
        if "self_k" in cache:
            k, v = torch.cat([cache["self_k"], k], dim=1), torch.cat([cache["self_v"], v], dim=1)
        cache["self_k"], cache["self_v"] = k, v
        x = self.attention(x, k, v, causal)
        x = self.crossattention(x, cache["cross_k"], cache["cross_v"], False)
        return self.output(self.intermediate(x), x)


class _Encoder(nn.Module):
    def __init__(self, config: BlipConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_BertLayer(config) for _ in range(config.text_layers))


class _Bert(nn.Module):
    def __init__(self, config: BlipConfig) -> None:
        super().__init__()
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)


class _Transform(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.dense = nn.Linear(width, width)
        self.LayerNorm = nn.LayerNorm(width, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(F.gelu(self.dense(x)))


class _Predictions(nn.Module):
    def __init__(self, config: BlipConfig) -> None:
        super().__init__()
        self.transform = _Transform(config.text_width)
        self.decoder = nn.Linear(config.text_width, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the file holds the output bias twice (``bias`` and ``decoder.bias``, tied in BLIP); the decoder's is used
        return self.decoder(self.transform(x))


class _Cls(nn.Module):
    def __init__(self, config: BlipConfig) -> None:
        super().__init__()
        self.predictions = _Predictions(config)


class BertLMHead(nn.Module):
    """BLIP's ``text_decoder``: token ids (and the image tokens) -> next-token logits."""

    def __init__(self, config: BlipConfig) -> None:
        super().__init__()
        self.bert = _Bert(config)
        self.cls = _Cls(config)

    def start_cache(self, image_tokens: torch.Tensor) -> list[LayerCache]:
        """Per-layer caches holding the cross-attention keys and values of ``image_tokens``."""
        caches = []
        for layer in self.bert.encoder.layer:
            proj = getattr(layer.crossattention, "self")
            caches.append({"cross_k": proj.key(image_tokens), "cross_v": proj.value(image_tokens)})
        return caches

    def step(self, ids: torch.Tensor, caches: list[LayerCache]) -> torch.Tensor:
        """Logits ``[batch, vocab]`` after ``ids`` (the tokens not yet seen), the caches extended with them."""
        seen = caches[0]["self_k"].shape[1] if "self_k" in caches[0] else 0
        x = self.bert.embeddings(ids, seen)
        for layer, cache in zip(self.bert.encoder.layer, caches):
            x = layer(x, cache)
        return self.cls.predictions(x[:, -1])


class BlipCaptionModel(nn.Module):
    """``visual_encoder`` and ``text_decoder``: a picture's tokens and the decoder that words them."""

    def __init__(self, config: BlipConfig = BLIP_BASE) -> None:
        super().__init__()
        self.config = config
        self.visual_encoder = VisionTransformer(config)
        self.text_decoder = BertLMHead(config)


def reorder_caches(caches: list[LayerCache], order: torch.Tensor) -> None:
    """Pick the cached rows of the beams the search keeps (``order``: source row of each new row)."""
    for cache in caches:
        for key in ("self_k", "self_v"):
            if key in cache:
                cache[key] = cache[key].index_select(0, order)
