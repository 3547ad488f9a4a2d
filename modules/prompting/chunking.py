"""Prompt -> 75-token chunks with per-token weights (A1111's ``tokenize_line``).

Each chunk becomes 77 tokens for the text encoder: start token, 75 prompt
tokens (padded with the end token), end token.  Three things move text to the
next chunk early:

- ``BREAK`` pads the current chunk and starts a new one;
- when a chunk fills and its last comma is at most ``comma_padding_backtrack``
  tokens from the end, everything after that comma moves to the next chunk;
- a textual-inversion embedding never straddles two chunks.

The tokenizer is injected (see :class:`PromptTokenizer`), so this works for
CLIP-L and OpenCLIP alike and is tested without a model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Protocol, Sequence

from modules.prompting import limits
from modules.prompting.attention import BREAK_ITEM_WEIGHT, parse_prompt_attention

CHUNK_LENGTH = 75
"""Prompt tokens per chunk (77 with the start and end tokens)."""

FindEmbedding = Callable[[Sequence[int], int], tuple[Any, Any]]
"""``(tokens, offset) -> (embedding, token_count)`` or ``(None, None)``: an embedding whose name starts at ``offset``."""


class PromptTokenizer(Protocol):
    """What chunking needs from a tokenizer.

    Calling it with texts returns one token-id list per text, without start or
    end tokens.  ``id_pad`` equals ``id_end`` for CLIP-L (SD1) and is 0 for
    OpenCLIP (SD2, SDXL's second encoder).
    """

    comma_token: int | None
    id_start: int
    id_end: int
    id_pad: int

    def __call__(self, texts: list[str]) -> list[list[int]]: ...


@dataclass
class TokenizerAdapter:
    """A :class:`PromptTokenizer` built from a per-text ``encode`` function and the special ids."""

    encode: Callable[[str], list[int]]
    comma_token: int | None
    id_start: int
    id_end: int
    id_pad: int

    def __call__(self, texts: list[str]) -> list[list[int]]:
        return [list(self.encode(text)) for text in texts]


class PromptChunkFix(NamedTuple):
    """A textual-inversion embedding whose vectors replace the placeholder tokens of a chunk.

    ``offset`` counts prompt tokens, not the start token: the vectors go to
    positions ``offset + 1`` ... ``offset + vectors`` of the 77-token row.
    """

    offset: int
    embedding: Any


class PromptChunk:
    """One chunk: 77 ``tokens``, their ``multipliers`` (weights) and its embedding ``fixes``."""

    def __init__(self) -> None:
        self.tokens: list[int] = []
        self.multipliers: list[float] = []
        self.fixes: list[PromptChunkFix] = []

    def __repr__(self) -> str:
        return f"PromptChunk(tokens={self.tokens!r}, multipliers={self.multipliers!r}, fixes={self.fixes!r})"


def empty_chunk(tokenizer: PromptTokenizer, chunk_length: int = CHUNK_LENGTH) -> PromptChunk:
    """A chunk for no text (batch items with fewer chunks than the longest one get these)."""
    chunk = PromptChunk()
    chunk.tokens = [tokenizer.id_start] + [tokenizer.id_end] * (chunk_length + 1)
    chunk.multipliers = [1.0] * (chunk_length + 2)
    return chunk


def target_prompt_token_count(token_count: int, chunk_length: int = CHUNK_LENGTH) -> int:
    """The token counter's limit: the next multiple of 75 (at least 75)."""
    return math.ceil(max(token_count, 1) / chunk_length) * chunk_length


def parse_for_emphasis(line: str, emphasis: str) -> list[list]:
    """The attention runs of ``line``; emphasis ``None`` sends the raw text (no weights, no ``BREAK``)."""
    if emphasis == "None":
        return [[line, 1.0]]
    return parse_prompt_attention(line)


def tokenize_line(line: str, tokenizer: PromptTokenizer, *, emphasis: str = "Original",
                  comma_padding_backtrack: int = 20, find_embedding: FindEmbedding | None = None,
                  chunk_length: int = CHUNK_LENGTH) -> tuple[list[PromptChunk], int]:
    """``(chunks, token_count)`` for one prompt.

    ``token_count`` is what the UI's counter shows: 75 for every chunk but the
    last, plus the tokens of the last one.  Embedding placeholders are token 0
    with the run's weight.  More than ``MAX_PROMPT_CHUNKS`` chunks raise
    :class:`~modules.prompting.limits.PromptLimitError`.
    """
    parsed = parse_for_emphasis(line, emphasis)
    tokenized = tokenizer([text for text, _ in parsed])

    chunks: list[PromptChunk] = []
    chunk = PromptChunk()
    token_count = 0
    last_comma = -1

    def next_chunk(is_last: bool = False) -> None:
        nonlocal chunk, token_count, last_comma
        token_count += len(chunk.tokens) if is_last else chunk_length
        to_add = chunk_length - len(chunk.tokens)
        if to_add > 0:
            chunk.tokens += [tokenizer.id_end] * to_add
            chunk.multipliers += [1.0] * to_add
        chunk.tokens = [tokenizer.id_start] + chunk.tokens + [tokenizer.id_end]
        chunk.multipliers = [1.0] + chunk.multipliers + [1.0]
        last_comma = -1
        chunks.append(chunk)
        chunk = PromptChunk()

    for tokens, (text, weight) in zip(tokenized, parsed):
        if text == "BREAK" and weight == BREAK_ITEM_WEIGHT:
            next_chunk()
            continue

        position = 0
        while position < len(tokens):
            token = tokens[position]

            if token == tokenizer.comma_token:
                last_comma = len(chunk.tokens)
            elif (comma_padding_backtrack != 0 and len(chunk.tokens) == chunk_length and last_comma != -1
                  and len(chunk.tokens) - last_comma <= comma_padding_backtrack):
                # The chunk is full and a comma is close to its end: move the words after
                # the comma to the next chunk so they are encoded together.
                cut = last_comma + 1
                moved_tokens, moved_multipliers = chunk.tokens[cut:], chunk.multipliers[cut:]
                chunk.tokens, chunk.multipliers = chunk.tokens[:cut], chunk.multipliers[:cut]
                next_chunk()
                chunk.tokens, chunk.multipliers = moved_tokens, moved_multipliers

            if len(chunk.tokens) == chunk_length:
                next_chunk()

            embedding, embedding_length = (None, None) if find_embedding is None else find_embedding(tokens, position)
            if embedding is None:
                chunk.tokens.append(token)
                chunk.multipliers.append(weight)
                position += 1
                continue

            vectors = int(embedding.vectors)
            if len(chunk.tokens) + vectors > chunk_length:
                next_chunk()
            chunk.fixes.append(PromptChunkFix(len(chunk.tokens), embedding))
            chunk.tokens += [0] * vectors
            chunk.multipliers += [weight] * vectors
            position += embedding_length

    if chunk.tokens or not chunks:
        next_chunk(is_last=True)
    if len(chunks) > limits.MAX_PROMPT_CHUNKS:
        raise limits.PromptLimitError(f"prompt needs {len(chunks)} chunks of {chunk_length} tokens; "
                                      f"the limit is {limits.MAX_PROMPT_CHUNKS}", "prompt")
    return chunks, token_count


def process_texts(texts: Sequence[str], tokenizer: PromptTokenizer, **options: Any) -> tuple[list[list[PromptChunk]], int]:
    """:func:`tokenize_line` for each text (each distinct text once); returns the chunks and the largest count.

    ``options`` are :func:`tokenize_line`'s keyword arguments.
    """
    done: dict[str, list[PromptChunk]] = {}
    batch_chunks = []
    token_count = 0
    for line in texts:
        if line not in done:
            chunks, count = tokenize_line(line, tokenizer, **options)
            token_count = max(token_count, count)
            done[line] = chunks
        batch_chunks.append(done[line])
    return batch_chunks, token_count


def pad_after_end(rows: list[list[int]], id_end: int, id_pad: int) -> list[list[int]]:
    """Rows with every token after the first end token replaced by ``id_pad`` (OpenCLIP pads with 0)."""
    if id_end == id_pad:
        return [list(row) for row in rows]
    padded = []
    for row in rows:
        end = row.index(id_end)
        padded.append(list(row[:end + 1]) + [id_pad] * (len(row) - end - 1))
    return padded
