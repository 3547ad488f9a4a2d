"""The pre-1.0 prompt path (setting ``use_old_emphasis_implementation``, A1111's ``sd_hijack_clip_old``).

Kept so old images can be reproduced.  Differences from the current path:

- no attention parser: the weight changes at every token that *contains*
  brackets (``(`` ×1.1, ``)`` ÷1.1, ``[`` ÷1.1, ``]`` ×1.1, once per character)
  and such tokens are dropped; ``BREAK`` is plain text;
- one 77-token chunk: tokens past 75 are cut, with a warning in the job's comments;
- a ``Used embeddings: name [checksum]`` comment instead of the ``TI hashes`` /
  ``Emphasis`` infotext fields.

The emphasis mode setting still decides how the weights act on ``z``.
"""
from __future__ import annotations

from typing import Any, Sequence

from modules.prompting.chunking import pad_after_end
from modules.prompting.emphasis import apply_emphasis
from modules.prompting.encoder_settings import setting
from modules.prompting.notes import notes_sink

PromptEncoder = Any
"""A :class:`modules.prompting.prompt_encoder.PromptEncoder` (which imports this module)."""

MAX_LENGTH = 77

_BRACKETS = "()[]"


def _bracket_multiplier(token_text: str) -> float:
    mult = 1.0
    for c in token_text:
        if c == "[":
            mult /= 1.1
        elif c == "]":
            mult *= 1.1
        elif c == "(":
            mult *= 1.1
        elif c == ")":
            mult /= 1.1
    return mult


def token_multipliers(vocab: dict[str, int]) -> dict[int, float]:
    """``{token id: weight factor}`` for every vocabulary entry with brackets whose factors do not cancel."""
    mults = {}
    for text, ident in vocab.items():
        if any(c in text for c in _BRACKETS):
            mult = _bracket_multiplier(text)
            if mult != 1.0:
                mults[ident] = mult
    return mults


def embedding_checksum(embedding: Any) -> str:
    """A1111's 4-hex ``Embedding.checksum()``: a rolling hash of the vectors ×100, truncated to ints."""
    cached = getattr(embedding, "cached_checksum", None)
    if cached is not None:
        return cached
    r = 0
    for v in (embedding.vec.reshape(-1) * 100).tolist():
        r = (r * 281 ^ int(v) * 997) & 0xFFFFFFFF
    value = f"{r & 0xffff:04x}"
    try:
        embedding.cached_checksum = value
    except AttributeError:
        pass  # objects with slots just recompute
    return value


def _remake(encoder: PromptEncoder, tokens: list[int], use_emphasis: bool) -> tuple[list[int], list, list[float], list, list[str]]:
    """One prompt's ids -> (77 ids, fixes, 75 weights before padding, used terms, comments)."""
    mults = encoder.token_mults if use_emphasis else {}
    db = encoder.embedding_db
    remade: list[int] = []
    fixes: list = []
    multipliers: list[float] = []
    used: list = []
    comments: list[str] = []
    mult = 1.0
    i = 0
    while i < len(tokens):
        embedding, name_length = db.find_embedding_at_position(tokens, i) if db is not None else (None, None)
        change = mults.get(tokens[i])
        if change is not None:
            mult *= change
            i += 1
        elif embedding is None:
            remade.append(tokens[i])
            multipliers.append(mult)
            i += 1
        else:
            count = int(embedding.vec.shape[0])
            fixes.append((len(remade), embedding))
            remade += [0] * count
            multipliers += [mult] * count
            used.append((embedding.name, embedding_checksum(embedding)))
            i += name_length
    limit = MAX_LENGTH - 2
    if len(remade) > limit:
        overflow = remade[limit:]
        text = encoder.wrapped.tokenizer.decode(overflow)
        comments.append(f"Warning: too many input tokens; some ({len(overflow)}) have been truncated:\n{text}\n")
    ids = remade + [encoder.id_end] * (limit - len(remade))
    ids = [encoder.id_start] + ids[:limit] + [encoder.id_end]
    return ids, fixes, multipliers, used, comments


def encode_old(encoder: PromptEncoder, texts: Sequence[str], clip_skip: int | None) -> Any:
    """The old path for one encoder: ``z`` ``[batch, 77, width]`` (or ``(z, pooled)``), comments recorded."""
    opts = encoder.settings()
    mode = str(setting(opts, "emphasis"))
    limit = MAX_LENGTH - 2
    cache: dict[tuple[int, ...], tuple] = {}
    rows, batch_fixes, batch_multipliers = [], [], []
    used: list = []
    comments: list[str] = []
    for tokens in encoder.tokenize(texts):
        key = tuple(tokens)
        if key not in cache:
            ids, fixes, multipliers, row_used, row_comments = _remake(encoder, tokens, mode != "None")
            used += row_used
            comments += row_comments
            cache[key] = (ids, fixes, multipliers)
        ids, fixes, multipliers = cache[key]
        multipliers = multipliers + [1.0] * (limit - len(multipliers))
        rows.append(ids)
        batch_fixes.append(fixes)
        batch_multipliers.append([1.0] + multipliers[:limit] + [1.0])

    sink = notes_sink(encoder.hijack)
    sink.comments += comments
    if used:
        sink.comments.append("Used embeddings: " + ", ".join(f"{word} [{checksum}]" for word, checksum in used))

    skip = encoder.clip_skip_rule(opts) if clip_skip is None else clip_skip
    out = encoder.encode_chunk(pad_after_end(rows, encoder.id_end, encoder.id_pad), batch_fixes, skip)
    z, pooled = out if isinstance(out, tuple) else (out, None)
    z = apply_emphasis(mode, z, batch_multipliers, rows)
    return (z, pooled) if pooled is not None else z
