"""One text encoder's full prompt path (A1111's ``FrozenCLIPEmbedderWithCustomWords`` family).

A :class:`PromptEncoder` is a strategy object set on a model's text embedder
(``embedder.prompt_encoder``); the embedder's ``forward(texts)`` then runs
A1111's path instead of plain chunking:

1. ``parse_prompt_attention`` (unless the ``emphasis`` setting is ``None``), ``BREAK``;
2. 75-token chunks with comma back-off (``comma_padding_backtrack``) and
   textual-inversion placeholders (:mod:`.chunking`);
3. each chunk as 77 ids, the embedding vectors put in place of the
   placeholders' token-table rows, encoded with this encoder's clip-skip rule;
4. the emphasis mode applied to each chunk, chunks joined on the token axis;
5. ``TI hashes`` and ``Emphasis`` noted for the job (:mod:`.notes`).

The model layer knows nothing of this module: it only offers the seams
(``prompt_encoder``, ``encode_tokens(..., inputs_embeds=...)``, ``token_embedding``).
Settings are read through an injected provider on every call, so a changed
option applies to the next generation.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Sequence

from modules.prompting.chunking import CHUNK_LENGTH, PromptChunk, TokenizerAdapter, empty_chunk, pad_after_end, process_texts
from modules.prompting.chunking import tokenize_line as chunk_line
from modules.prompting.emphasis import apply_emphasis
# re-exported: the settings names were defined here before
from modules.prompting.encoder_settings import DEFAULTS, SettingsProvider, setting  # noqa: F401
from modules.prompting.legacy_emphasis import encode_old, token_multipliers
from modules.prompting.notes import InfotextRecord, PromptNotes, notes_sink
from modules.prompting.text_encoding import EncodedPrompts, emphasis_infotext, encode_prompts, ti_hashes_infotext

if TYPE_CHECKING:
    import torch

ClipSkipRule = Callable[[Any], "int | None"]
"""Settings -> the ``clip_skip`` to pass to the embedder's ``encode_tokens`` (None = its default layer)."""


def sd1_clip_skip(opts: Any) -> int | None:
    """SD1's CLIP-L: ``CLIP_stop_at_last_layers`` (N>1: N-th hidden state from the end, then the final norm)."""
    return int(setting(opts, "CLIP_stop_at_last_layers"))


def sdxl_clip_l_skip(opts: Any) -> int | None:
    """SDXL's CLIP-L keeps its penultimate layer unless ``sdxl_clip_l_skip`` makes it honour Clip skip.

    A1111 then takes hidden state ``-N`` without the final norm (so Clip skip 1
    gives the last layer's raw output, 2 the usual penultimate one).
    """
    if setting(opts, "sdxl_clip_l_skip") is True:
        return int(setting(opts, "CLIP_stop_at_last_layers"))
    return None


def no_clip_skip(opts: Any) -> int | None:
    """OpenCLIP (SD2's ViT-H, SDXL's bigG): Clip skip has no effect in A1111."""
    return None


ConditioningRecord = PromptNotes
"""A stand-alone :class:`InfotextRecord` (for tests and for models used outside the web UI)."""


def insert_embedding_vectors(token_embedding: "torch.nn.Module", tokens: "torch.Tensor",
                             fixes: Sequence[Sequence[Any]], key: str) -> "torch.Tensor | None":
    """Token-table rows for ``tokens`` with each fix's vectors at row ``offset + 1`` onwards.

    ``fixes`` holds, per batch row, ``(offset, embedding)`` pairs; an SDXL
    embedding's vectors are a dict and ``key`` (``clip_l``/``clip_g``) picks
    this encoder's part.  Vectors that would run past the row are cut, as in
    A1111.  Returns None when no row has a fix, so plain prompts take the
    unchanged lookup path.
    """
    import torch

    if not any(len(row_fixes) for row_fixes in fixes):
        return None
    embedded = token_embedding(tokens)
    rows = []
    for row_fixes, row in zip(fixes, embedded):
        for offset, embedding in row_fixes:
            vec = embedding.vec[key] if isinstance(embedding.vec, dict) else embedding.vec
            vec = vec.to(device=row.device, dtype=row.dtype)
            count = min(row.shape[0] - offset - 1, vec.shape[0])
            row = torch.cat([row[:offset + 1], vec[:count], row[offset + 1 + count:]])
        rows.append(row)
    return torch.stack(rows)


def comma_token_of(tokenizer: Any) -> int | None:
    """The id of ``,`` at a word end (A1111 reads ``,</w>`` from the vocabulary; XLM-R's tokenizer names its own)."""
    explicit = getattr(tokenizer, "comma_token", None)
    if isinstance(explicit, int):
        return explicit
    vocab = getattr(tokenizer, "vocab", None)
    return vocab.get(",</w>") if isinstance(vocab, dict) else None


class PromptEncoder:
    """A1111's prompt path for one text embedder (``ClipTextEmbedder`` or ``OpenClipEmbedder``).

    Offers the A1111 surface extensions use on ``sd_model.cond_stage_model``
    (``tokenize``, ``tokenize_line``, ``process_texts``, ``empty_chunk``,
    ``get_target_prompt_token_count``, ``encode_embedding_init_text``,
    ``encode_with_transformers``, ``process_tokens``, ``id_start``/``id_end``/
    ``id_pad``/``comma_token``/``chunk_length``, ``wrapped``, ``hijack``).

    ``textual_inversion_key`` is the part of an SDXL embedding this encoder
    takes (``clip_l`` or ``clip_g``); ``clip_skip_rule`` maps settings to the
    ``clip_skip`` passed to the embedder.  ``embedding_db`` (optional) finds
    embeddings by token ids; ``record`` receives the infotext fields.
    """

    def __init__(self, embedder: Any, settings: SettingsProvider, *, clip_skip_rule: ClipSkipRule = no_clip_skip,
                 textual_inversion_key: str = "clip_l", embedding_db: Any = None,
                 record: InfotextRecord | None = None) -> None:
        self.wrapped = embedder
        self.settings = settings
        self.clip_skip_rule = clip_skip_rule
        self.textual_inversion_key = textual_inversion_key
        self.embedding_db = embedding_db
        self.hijack: InfotextRecord = record if record is not None else ConditioningRecord()
        self.chunk_length = CHUNK_LENGTH
        self.input_key = getattr(embedder, "input_key", "txt")
        self.return_pooled = bool(getattr(embedder, "always_return_pooled", False))
        base = embedder.tokenizer
        self.prompt_tokenizer = TokenizerAdapter(encode=base.encode, comma_token=comma_token_of(base),
                                                 id_start=base.bos_id, id_end=base.eos_id, id_pad=embedder.pad_id)
        self._token_mults: dict[int, float] | None = None

    # --- A1111 attribute names ---
    @property
    def id_start(self) -> int:
        return self.prompt_tokenizer.id_start

    @property
    def id_end(self) -> int:
        return self.prompt_tokenizer.id_end

    @property
    def id_pad(self) -> int:
        return self.prompt_tokenizer.id_pad

    @property
    def comma_token(self) -> int | None:
        return self.prompt_tokenizer.comma_token

    @property
    def width(self) -> int:
        return int(self.wrapped.width)

    @property
    def token_mults(self) -> dict[int, float]:
        """Weight factors of bracket tokens, for the pre-1.0 path (computed on first use)."""
        if self._token_mults is None:
            self._token_mults = token_multipliers(getattr(self.wrapped.tokenizer, "vocab", {}))
        return self._token_mults

    # --- tokenization ---
    def chunking_options(self, opts: Any = None) -> dict[str, Any]:
        """:func:`~.chunking.tokenize_line` keyword arguments under ``opts`` (default: the live settings).

        With :attr:`prompt_tokenizer` this is what the token counter
        (:func:`~.token_counter.prompt_token_count`) needs to count like the encoder.
        """
        opts = self.settings() if opts is None else opts
        find = self.embedding_db.find_embedding_at_position if self.embedding_db is not None else None
        return dict(emphasis=str(setting(opts, "emphasis")),
                    comma_padding_backtrack=int(setting(opts, "comma_padding_backtrack")),
                    find_embedding=find, chunk_length=self.chunk_length)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Texts -> token ids without start/end tokens."""
        return self.prompt_tokenizer(list(texts))

    def tokenize_line(self, line: str) -> tuple[list[PromptChunk], int]:
        """One prompt -> ``(chunks, token_count)`` under the current settings."""
        return chunk_line(line, self.prompt_tokenizer, **self.chunking_options())

    def process_texts(self, texts: Sequence[str]) -> tuple[list[list[PromptChunk]], int]:
        """Prompts -> ``(chunks per prompt, largest token count)``."""
        return process_texts(texts, self.prompt_tokenizer, **self.chunking_options())

    def empty_chunk(self) -> PromptChunk:
        return empty_chunk(self.prompt_tokenizer, self.chunk_length)

    def get_target_prompt_token_count(self, token_count: int) -> int:
        """The counter's limit: the next multiple of 75 (at least 75)."""
        return math.ceil(max(token_count, 1) / self.chunk_length) * self.chunk_length

    def get_prompt_lengths(self, text: str) -> tuple[int, int]:
        """``(token_count, limit)`` for the UI's token counter."""
        _, count = self.process_texts([text])
        return count, self.get_target_prompt_token_count(count)

    # --- encoding ---
    def encode_embedding_init_text(self, init_text: str, nvpt: int) -> "torch.Tensor":
        """Token-table vectors of ``init_text`` (at most ``nvpt`` for CLIP-L, as A1111), ``[n, width]``."""
        import torch

        ids = self.tokenize([init_text])[0]
        if self.id_pad == self.id_end:  # CLIP-L: A1111's tokenizer call is limited to nvpt tokens
            ids = ids[:nvpt]
        table = self.wrapped.token_embedding
        return table(torch.tensor([ids], dtype=torch.long, device=table.weight.device)).squeeze(0)

    def encode_chunk(self, rows: list[list[int]], fixes: list[list[Any]], clip_skip: int | None) -> Any:
        """One chunk of the batch (77 ids per row, padding done) -> ``z`` or ``(z, pooled)``."""
        import torch

        table = self.wrapped.token_embedding
        tokens = torch.tensor(rows, dtype=torch.long, device=table.weight.device)
        embeds = insert_embedding_vectors(table, tokens, fixes, self.textual_inversion_key)
        return self.wrapped.encode_tokens(tokens, clip_skip, inputs_embeds=embeds)

    def encode_with_transformers(self, tokens: "torch.Tensor") -> Any:
        """A1111 name: ids ``[batch, 77]`` -> ``z`` (or ``(z, pooled)``) with the settings' clip skip, no fixes."""
        return self.wrapped.encode_tokens(tokens, self.clip_skip_rule(self.settings()))

    def process_tokens(self, remade_batch_tokens: list[list[int]], batch_multipliers: list[list[float]]) -> Any:
        """A1111 name: one chunk's ids and weights -> ``z`` with padding and emphasis applied (no fixes)."""
        opts = self.settings()
        rows = pad_after_end(remade_batch_tokens, self.id_end, self.id_pad)
        out = self.encode_chunk(rows, [[] for _ in rows], self.clip_skip_rule(opts))
        z, pooled = out if isinstance(out, tuple) else (out, None)
        z = apply_emphasis(str(setting(opts, "emphasis")), z, batch_multipliers, remade_batch_tokens)
        return (z, pooled) if pooled is not None else z

    def encode(self, texts: Sequence[str], clip_skip: int | None = None) -> EncodedPrompts:
        """Prompts -> :class:`EncodedPrompts`; ``clip_skip`` None = the settings' rule for this encoder."""
        opts = self.settings()
        skip = self.clip_skip_rule(opts) if clip_skip is None else clip_skip
        return encode_prompts(list(texts), self.prompt_tokenizer,
                              lambda rows, fixes: self.encode_chunk(rows, fixes, skip),
                              **self.chunking_options(opts))

    def __call__(self, texts: Sequence[str], clip_skip: int | None = None) -> Any:
        """The embedder's ``forward``: ``z`` ``[batch, 77 * chunks, width]``, or ``(z, pooled)`` for bigG.

        With ``use_old_emphasis_implementation`` the pre-1.0 path runs instead
        (:mod:`.legacy_emphasis`; one chunk, no infotext fields).
        """
        texts = list(texts)
        if setting(self.settings(), "use_old_emphasis_implementation"):
            return encode_old(self, texts, clip_skip)
        result = self.encode(texts, clip_skip)
        self.record_infotext(texts, result)
        return (result.z, result.pooled) if result.pooled is not None else result.z

    forward = __call__

    def record_infotext(self, texts: Sequence[str], result: EncodedPrompts) -> None:
        """Note ``TI hashes`` (appending an earlier value, as A1111) and ``Emphasis``: in the notes of the running
        :func:`~.notes.encode_with_notes`, else in the record (:func:`~.notes.notes_sink`)."""
        opts = self.settings()
        params = notes_sink(self.hijack).extra_generation_params
        if setting(opts, "textual_inversion_add_hashes_to_infotext") and result.used_embeddings:
            value = ti_hashes_infotext(result.used_embeddings, params.get("TI hashes"))
            if value:
                params["TI hashes"] = value
        emphasis = emphasis_infotext(texts, str(setting(opts, "emphasis")))
        if emphasis:
            params["Emphasis"] = emphasis
