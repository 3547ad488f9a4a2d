"""Shared pieces for the text-conditioning tests: settings, tiny models, hand-built 77-token rows.

Expected values are computed from the bare embedder (``encode_tokens`` on rows
built here) or straight from the transformer, never through the code under test.
"""
from __future__ import annotations

import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from modules.models.loader import load_model
from modules.models.tiny_factory import make_tiny_checkpoint
from modules.models.tokenizer import BOS_ID, EOS_ID

CHUNK = 75


def make_settings(**values: Any) -> types.SimpleNamespace:
    """A1111's defaults for the options the text path reads, overridden by ``values``."""
    base = dict(emphasis="Original", comma_padding_backtrack=20, CLIP_stop_at_last_layers=1, sdxl_clip_l_skip=False,
                textual_inversion_add_hashes_to_infotext=True, sdxl_crop_top=0, sdxl_crop_left=0,
                sdxl_refiner_low_aesthetic_score=2.5, sdxl_refiner_high_aesthetic_score=6.0)
    base.update(values)
    return types.SimpleNamespace(**base)


def load_tiny(family: str, folder: Path) -> Any:
    """A tiny random model whose text encoders' layer norms are not the identity.

    Freshly initialised norms (weight 1, bias 0) make every token vector
    average to zero, and the ``Original`` emphasis divides by that average.
    """
    model = load_model(make_tiny_checkpoint(family, folder))
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.LayerNorm) and name.startswith(("cond_stage_model", "conditioner")):
                module.weight.add_(torch.randn(module.weight.shape, generator=generator) * 0.2)
                module.bias.add_(torch.randn(module.bias.shape, generator=generator) * 0.5)
    return model


def row(ids: list[int], pad_id: int) -> list[int]:
    """BOS, the ids, EOS, then padding to 77."""
    assert len(ids) <= CHUNK
    return [BOS_ID, *ids, EOS_ID] + [pad_id] * (CHUNK - len(ids))


def encode_rows(embedder: Any, rows: list[list[int]], clip_skip: int | None = None) -> Any:
    """The bare embedder on explicit 77-token rows (one batch item, chunks joined on the token axis)."""
    outs = [embedder.encode_tokens(torch.tensor([r]), clip_skip) for r in rows]
    if isinstance(outs[0], tuple):
        return torch.cat([o[0] for o in outs], dim=1), outs[0][1]
    return torch.cat(outs, dim=1)


def ids_of(embedder: Any, text: str) -> list[int]:
    return embedder.tokenizer.encode(text)


@contextmanager
def vectors_as_tokens(embedder: Any, vectors: torch.Tensor, first_id: int = 1000) -> Iterator[list[int]]:
    """Temporarily make token ids ``first_id...`` look up ``vectors``: the plain path's view of an embedding."""
    table = embedder.token_embedding.weight
    ids = list(range(first_id, first_id + vectors.shape[0]))
    saved = table[ids].clone()
    with torch.no_grad():
        table[ids] = vectors.to(table.dtype)
    try:
        yield ids
    finally:
        with torch.no_grad():
            table[ids] = saved
