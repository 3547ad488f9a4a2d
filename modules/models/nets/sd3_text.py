"""SD3's text encoders (``text_encoders.clip_l`` / ``clip_g`` / ``t5xxl``) and the joint CLIP-L+G embedder.

Both CLIPs read the same 77-token chunks and give their penultimate hidden state
without the final norm; the two are joined on the width axis (768 + 1280) and
zero-padded to T5's 4096.  The pooled vector is CLIP-L's final-norm output at the
end token (not projected) joined with CLIP-G's projected one: 2048 wide.  As in
A1111, CLIP-G sees zeros after the first end token where CLIP-L sees the end id.
T5-XXL's part of the sequence is zeros unless a T5 encoder is loaded (setting ``sd3_enable_t5`` at load
time, with its weights and tokenizer on disk); then it is T5's last hidden state over the prompt's tokens
(emphasis parsed, weights not applied, ``BREAK`` dropped, as A1111), padded or cut to the CLIP part's length.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import torch
from torch import nn
from transformers import CLIPTextConfig, CLIPTextModelWithProjection

from modules.models.nets.clip_text import ClipTextEmbedder, clip_text_config
from modules.models.nets.t5 import END_ID, PAD_ID, T5_XXL_SIZES, T5Tokenizer, T5XxlEncoder
from modules.models.nets.text_chunks import ChunkedTextEmbedder, forward_texts
from modules.models.tokenizer import EOS_ID

log = logging.getLogger(__name__)

CONTEXT_WIDTH = 4096
"""Width of the joint token sequence (T5-XXL's); the CLIP part is zero-padded to it."""

CLIP_L_SIZES = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
CLIP_G_SIZES = dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=20, intermediate_size=5120)


class ClipGEmbedder(nn.Module):
    """OpenCLIP bigG in transformers' layout (``transformer.text_model.*``, ``transformer.text_projection``)."""

    def __init__(self, **sizes: int) -> None:
        super().__init__()
        config: CLIPTextConfig = clip_text_config(**{**CLIP_G_SIZES, **sizes})
        config.hidden_act = "gelu"
        self.transformer = CLIPTextModelWithProjection(config)

    @property
    def width(self) -> int:
        return self.transformer.config.hidden_size

    def init_buffers(self, device: torch.device | str) -> None:
        """Rebuild the non-persistent ``position_ids`` buffer (left on ``meta`` by a meta-device build)."""
        embeddings = self.transformer.text_model.embeddings
        n = embeddings.position_embedding.num_embeddings
        embeddings.register_buffer("position_ids", torch.arange(n, device=device).expand(1, -1), persistent=False)

    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[batch, 77]`` ids -> (penultimate hidden state, projected pooled vector)."""
        out = self.transformer(input_ids=tokens, output_hidden_states=True)
        return out.hidden_states[-2], out.text_embeds


def clip_l_encode(embedder: ClipTextEmbedder, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SD3's CLIP-L: (penultimate hidden state, final-norm output at the first end token)."""
    out = embedder.transformer.text_model(input_ids=tokens, output_hidden_states=True)
    return out.hidden_states[-2], out.pooler_output


class ClipLGEmbedder(ChunkedTextEmbedder):
    """The two CLIPs as one text embedder the prompting layer can drive (chunks, emphasis, BREAK).

    Not a module: it only points at ``clip_l`` and ``clip_g``, whose weights live
    under their own checkpoint paths.  ``encode_tokens`` returns ``(z, pooled)``
    with ``z`` ``[batch, 77, 4096]``.
    """

    pad_id = EOS_ID
    unescape_html = False
    always_return_pooled = True
    input_key = "txt"

    def __init__(self, clip_l: ClipTextEmbedder, clip_g: ClipGEmbedder) -> None:
        self.clip_l = clip_l
        self.clip_g = clip_g
        self._warned_embeddings = False

    @property
    def width(self) -> int:
        """Width of the embeddings A1111 offers textual inversion for SD3 (768 + 1280)."""
        return self.clip_l.width + self.clip_g.width

    @property
    def token_embedding(self) -> nn.Embedding:
        return self.clip_l.token_embedding

    def encode_tokens(self, tokens: torch.Tensor, clip_skip: int | None = None,
                      inputs_embeds: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``[batch, 77]`` ids -> ``([batch, 77, 4096], [batch, 2048])``.

        Clip skip does not apply (A1111's SD3 encoder fixes the penultimate
        layer); textual-inversion vectors are not inserted, as A1111 1.10 does
        not support them for SD3.
        """
        if inputs_embeds is not None and not self._warned_embeddings:
            self._warned_embeddings = True
            log.warning("textual inversion embeddings are not applied to SD3 prompts")
        device = self.clip_l.token_embedding.weight.device
        tokens = tokens.to(device)
        tokens_g = tokens.clone()
        for row in range(tokens_g.shape[0]):
            ends = (tokens_g[row] == EOS_ID).nonzero()
            if len(ends):
                tokens_g[row, int(ends[0]) + 1:] = 0
        l_out, l_pooled = clip_l_encode(self.clip_l, tokens)
        g_out, g_pooled = self.clip_g.encode(tokens_g.to(self.clip_g.transformer.device))
        z = torch.cat([l_out, g_out.to(l_out.device)], dim=-1)
        z = nn.functional.pad(z, (0, CONTEXT_WIDTH - z.shape[-1]))
        return z, torch.cat([l_pooled, g_pooled.to(l_pooled.device)], dim=-1)

    def __call__(self, texts: list[str], clip_skip: int | None = None) -> Any:
        return forward_texts(self, texts, clip_skip)


def t5_prompt_ids(tokenizer: Any, prompt_parser: Any, text: str) -> list[int]:
    """T5 ids of one prompt: its pieces' tokens (``BREAK`` dropped, the parser's weights not applied, as A1111's
    ``Sd3T5``) and the end id; ``prompt_parser`` splits emphasis, None takes the text as it is."""
    pieces = prompt_parser(text) if prompt_parser is not None else [(text, 1.0)]
    tokens: list[int] = []
    for piece, weight in pieces:
        if piece == "BREAK" and weight == -1:
            continue
        tokens += tokenizer.encode(piece)
    tokens.append(END_ID)
    return tokens


class Sd3TextEncoders(nn.Module):
    """``text_encoders.*``: CLIP-L, CLIP-G and (when loaded) T5-XXL, plus the joint CLIP embedder."""

    t5_prompt_parser: Callable[[str], list[tuple[str, float]]] | None = None
    """The prompting layer's emphasis parser for T5's tokens (None: the whole prompt as one piece)."""
    t5_enabled: Callable[[], bool] | None = None
    """The prompting layer's reading of setting ``sd3_enable_t5`` (None: use T5 whenever it is loaded)."""

    def __init__(self, clip_l_sizes: dict[str, int] | None = None, clip_g_sizes: dict[str, int] | None = None,
                 t5_sizes: dict[str, int] | None = None) -> None:
        super().__init__()
        self.clip_l = ClipTextEmbedder(layer="hidden", layer_idx=-2, **{**CLIP_L_SIZES, **(clip_l_sizes or {})})
        self.clip_g = ClipGEmbedder(**(clip_g_sizes or {}))
        self.t5xxl: T5XxlEncoder | None = None
        self.t5_sizes = {**T5_XXL_SIZES, **(t5_sizes or {})}
        self.t5_tokenizer: T5Tokenizer | None = None
        # object.__setattr__: a plain attribute, so its two CLIPs are not registered (and saved) twice
        object.__setattr__(self, "clip_lg", ClipLGEmbedder(self.clip_l, self.clip_g))

    def add_t5(self) -> T5XxlEncoder:
        """Create the T5-XXL encoder (on the current default device; the loader builds it on ``meta``)."""
        self.t5xxl = T5XxlEncoder(**self.t5_sizes)
        return self.t5xxl

    def t5_tokens(self, text: str, token_count: int) -> list[int]:
        """T5 ids of one prompt: its pieces' tokens (``BREAK`` dropped), the end id, then padding or a cut to
        ``token_count`` (A1111's ``Sd3T5.tokenize_line``)."""
        assert self.t5_tokenizer is not None
        tokens = t5_prompt_ids(self.t5_tokenizer, self.t5_prompt_parser, text)
        return (tokens + [PAD_ID] * (token_count - len(tokens)))[:token_count]

    def uses_t5(self) -> bool:
        loaded = self.t5xxl is not None and self.t5_tokenizer is not None
        return loaded and (self.t5_enabled is None or self.t5_enabled())

    def encode_t5(self, texts: list[str], token_count: int, like: torch.Tensor) -> torch.Tensor:
        """``[B, token_count, 4096]``: T5's output, or zeros when T5 is not in use (A1111)."""
        if not self.uses_t5():
            return torch.zeros(len(texts), token_count, CONTEXT_WIDTH, device=like.device, dtype=like.dtype)
        assert self.t5xxl is not None
        ids = torch.tensor([self.t5_tokens(t, token_count) for t in texts], dtype=torch.long)
        out = self.t5xxl.encode(ids).to(device=like.device, dtype=like.dtype)
        return nn.functional.pad(out, (0, CONTEXT_WIDTH - out.shape[-1]))  # a no-op at T5-XXL's 4096

    def forward(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Prompts -> ``{"crossattn": [B, 2 * 77 * chunks, 4096], "vector": [B, 2048]}``."""
        texts = list(texts)
        lg_out, pooled = self.clip_lg(texts)
        t5_out = self.encode_t5(texts, lg_out.shape[1], lg_out)
        return {"crossattn": torch.cat([lg_out, t5_out], dim=-2), "vector": pooled}
