"""Encode a batch of prompts chunk by chunk, with weights and embeddings (A1111's ``forward``).

The text encoder itself is injected as ``encode_chunk(rows, fixes)``: ``rows``
are the 77-token id lists of one chunk for every batch item (already padded
after the end token for OpenCLIP), ``fixes`` the embeddings to place in each
row (see :class:`~modules.prompting.chunking.PromptChunkFix`).  It returns
``z`` ``[batch, 77, width]``, or ``(z, pooled)`` for encoders with a pooled
output (SDXL's OpenCLIP-G); the pooled output of the first chunk is kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from modules.prompting.chunking import (CHUNK_LENGTH, FindEmbedding, PromptChunkFix, PromptTokenizer, empty_chunk,
                                        pad_after_end, process_texts)
from modules.prompting.emphasis import apply_emphasis

if TYPE_CHECKING:
    import torch

EncodeChunk = Callable[[list[list[int]], list[list[PromptChunkFix]]], Any]


@dataclass
class EncodedPrompts:
    """The result of :func:`encode_prompts`."""

    z: "torch.Tensor"
    """``[batch, 77 * chunks, width]``."""
    pooled: Any = None
    used_embeddings: dict[str, Any] = field(default_factory=dict)
    """Embeddings found in the prompts, by name (for the ``TI hashes`` infotext)."""
    token_count: int = 0


def encode_prompts(texts: Sequence[str], tokenizer: PromptTokenizer, encode_chunk: EncodeChunk, *,
                   emphasis: str = "Original", comma_padding_backtrack: int = 20,
                   find_embedding: FindEmbedding | None = None, chunk_length: int = CHUNK_LENGTH) -> EncodedPrompts:
    """Chunk every text, encode chunk ``i`` of all texts together, apply emphasis, concatenate.

    Texts with fewer chunks than the longest get empty chunks, so the batch is
    rectangular.
    """
    import torch

    batch_chunks, token_count = process_texts(texts, tokenizer, emphasis=emphasis,
                                              comma_padding_backtrack=comma_padding_backtrack,
                                              find_embedding=find_embedding, chunk_length=chunk_length)
    used: dict[str, Any] = {}
    chunk_count = max(len(chunks) for chunks in batch_chunks)
    zs = []
    pooled = None
    for i in range(chunk_count):
        batch_chunk = [chunks[i] if i < len(chunks) else empty_chunk(tokenizer, chunk_length) for chunks in batch_chunks]
        rows = [chunk.tokens for chunk in batch_chunk]
        fixes = [chunk.fixes for chunk in batch_chunk]
        for row_fixes in fixes:
            for fix in row_fixes:
                used[fix.embedding.name] = fix.embedding
        out = encode_chunk(pad_after_end(rows, tokenizer.id_end, tokenizer.id_pad), fixes)
        if isinstance(out, tuple):
            out, chunk_pooled = out
            if pooled is None:
                pooled = chunk_pooled
        multipliers = [chunk.multipliers for chunk in batch_chunk]
        zs.append(apply_emphasis(emphasis, out, multipliers, rows))
    return EncodedPrompts(torch.hstack(zs), pooled, used, token_count)


def ti_hashes_infotext(used_embeddings: dict[str, Any], previous: str | None = None) -> str | None:
    """The ``TI hashes`` infotext value: ``name: shorthash, ...`` (``:`` and ``,`` removed from names).

    Embeddings without a hash are left out; ``previous`` (an earlier value in
    the same generation) is appended.  ``None`` when there is nothing to write.
    """
    hashes = []
    for name, embedding in used_embeddings.items():
        shorthash = getattr(embedding, "shorthash", None)
        if not shorthash:
            continue
        hashes.append(f"{name.replace(':', '').replace(',', '')}: {shorthash}")
    if not hashes:
        return None
    if previous:
        hashes.append(previous)
    return ", ".join(hashes)


def emphasis_infotext(texts: Sequence[str], emphasis: str) -> str | None:
    """The ``Emphasis`` infotext value: the mode, written only when it is not ``Original`` and a prompt uses brackets."""
    if emphasis != "Original" and any("(" in text or "[" in text for text in texts):
        return emphasis
    return None
