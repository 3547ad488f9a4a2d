"""Plain prompt encoding: 75-token chunks, each wrapped as BOS + 75 + EOS/padding = 77 tokens.

This is the emphasis-free core of A1111's text path; the prompting layer builds
emphasis, comma backtracking and textual inversion on the same pieces
(``embedder.tokenizer``, ``embedder.encode_tokens``, ``embedder.pad_id``,
``embedder.token_embedding``).  It plugs its full path in by setting an
embedder's ``prompt_encoder`` (see :func:`forward_texts`); the model layer never
imports the prompting layer.
"""
from __future__ import annotations

from typing import Any, Protocol

import torch

from modules.models.tokenizer import BOS_ID, EOS_ID, ClipTokenizer

CHUNK_TOKENS = 75


class PromptEncoderHook(Protocol):
    """A strategy that replaces an embedder's plain text path (set as ``embedder.prompt_encoder``)."""

    def __call__(self, texts: list[str], clip_skip: int | None = None) -> Any: ...


class TextEmbedder(Protocol):
    pad_id: int
    tokenizer: Any
    prompt_encoder: PromptEncoderHook | None

    def encode_tokens(self, tokens: torch.Tensor, clip_skip: int | None = None,
                      inputs_embeds: torch.Tensor | None = None) -> Any: ...


def chunk_token_ids(ids: list[int], n_chunks: int, pad_id: int, bos_id: int = BOS_ID,
                    eos_id: int = EOS_ID) -> list[list[int]]:
    """Split ids into ``n_chunks`` rows of 77: BOS, up to 75 ids, EOS, then ``pad_id`` (CLIP's BOS/EOS by default)."""
    rows = []
    for c in range(n_chunks):
        part = ids[c * CHUNK_TOKENS:(c + 1) * CHUNK_TOKENS]
        rows.append([bos_id, *part, eos_id] + [pad_id] * (CHUNK_TOKENS - len(part)))
    return rows


def encode_texts(embedder: TextEmbedder, texts: list[str], clip_skip: int | None = None) -> Any:
    """Encode a batch; returns ``[batch, 77 * chunks, width]`` (and the first chunk's pooled vector)."""
    tokenizer = embedder.tokenizer
    token_lists = [tokenizer.encode(t) for t in texts]
    n_chunks = max(1, max((-(-len(ids) // CHUNK_TOKENS) for ids in token_lists), default=1))
    special = dict(bos_id=getattr(tokenizer, "bos_id", BOS_ID), eos_id=getattr(tokenizer, "eos_id", EOS_ID))
    tokens = torch.tensor([chunk_token_ids(ids, n_chunks, embedder.pad_id, **special) for ids in token_lists])
    zs, pooled = [], None
    for c in range(n_chunks):
        out = embedder.encode_tokens(tokens[:, c], clip_skip)
        if isinstance(out, tuple):
            out, chunk_pooled = out
            pooled = chunk_pooled if pooled is None else pooled
        zs.append(out)
    z = torch.cat(zs, dim=1)
    return (z, pooled) if pooled is not None else z


def forward_texts(embedder: TextEmbedder, texts: list[str], clip_skip: int | None = None) -> Any:
    """An embedder's ``forward``: its ``prompt_encoder`` strategy when one is set, else :func:`encode_texts`."""
    if embedder.prompt_encoder is not None:
        return embedder.prompt_encoder(list(texts), clip_skip)
    return encode_texts(embedder, list(texts), clip_skip)


class ChunkedTextEmbedder:
    """What the CLIP and OpenCLIP embedders share (mixed into their ``nn.Module``): the tokenizer, made on first
    use, and ``forward`` through :func:`forward_texts`. Subclasses set ``pad_id`` and ``unescape_html`` and
    provide ``encode_tokens``."""

    unescape_html = False
    prompt_encoder: PromptEncoderHook | None = None
    """The prompting layer's full text path (emphasis, textual inversion); None = plain chunking."""
    _tokenizer: ClipTokenizer | None = None

    @property
    def tokenizer(self) -> ClipTokenizer:
        if self._tokenizer is None:
            self._tokenizer = ClipTokenizer(unescape_html=self.unescape_html)
        return self._tokenizer

    def forward(self, texts: list[str], clip_skip: int | None = None) -> Any:
        """Encode a batch of prompts: through ``prompt_encoder`` if set, else plain 75-token chunks."""
        return forward_texts(self, texts, clip_skip)
