"""AltDiffusion's text encoder (A1111's ``modules.xlmr`` / ``modules.xlmr_m18`` ``BertSeriesModelWithTransformation``).

An XLM-RoBERTa-large (``roberta.*``, transformers' ``XLMRobertaModel`` built from a config in code) and a
linear ``transformation`` to the UNet's context width.  m9 projects the last hidden state
(``transformation``; its ``pre_LN`` is in the file and unused, as in A1111); m18 projects the
penultimate hidden state through ``pre_LN`` and ``transformation_pre``.  There is no CLIP skip (A1111:
the last layer is the one the projection was trained on).

The tokenizer is XLM-R's SentencePiece vocabulary, read from ``tokenizer.json`` of ``xlm-roberta-large``
in ``models/xlm-roberta-large`` (A1111 downloads it from the Hugging Face hub; nothing is downloaded here).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import XLMRobertaConfig, XLMRobertaModel

from modules.models.nets.text_chunks import ChunkedTextEmbedder

XLMR_LARGE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                  vocab_size=250002, max_position_embeddings=514)
"""``XLMR-Large`` (the ``name`` A1111's YAMLs give), the sizes A1111's class sets in code."""
TOKENIZER_FOLDER = "xlm-roberta-large"
TOKENIZER_FILE = "tokenizer.json"
BOS, PAD, EOS = 0, 1, 2


class XlmrTokenizer:
    """XLM-R's tokenizer from its ``tokenizer.json`` (the ``tokenizers`` package): ids without the specials."""

    bos_id = BOS
    eos_id = EOS

    def __init__(self, path: str | Path) -> None:
        from tokenizers import Tokenizer  # why: only AltDiffusion needs it, on first prompt

        self.path = Path(path)
        self._tokenizer = Tokenizer.from_file(str(path))
        self.comma_token = self._tokenizer.token_to_id(",")
        """A1111's ``comma_token`` for XLM-R: the plain ``,`` piece (no ``</w>`` marks here)."""

    def encode(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)


class XlmrMissing(FileNotFoundError):
    """The tokenizer file is not in its folder."""


def tokenizer_path(folder: str | Path | None) -> Path:
    """``models/xlm-roberta-large/tokenizer.json`` (or under the given folder)."""
    return (Path(folder) if folder else Path("models") / TOKENIZER_FOLDER) / TOKENIZER_FILE


class XlmrTextEmbedder(ChunkedTextEmbedder, nn.Module):
    """``cond_stage_model`` of AltDiffusion: token ids (BOS 0, EOS 2, padding 1) -> ``[batch, 77, project_dim]``."""

    pad_id = PAD
    unescape_html = False

    def __init__(self, project_dim: int = 768, penultimate: bool = False, **sizes: int) -> None:
        super().__init__()
        config = XLMRobertaConfig(**{**XLMR_LARGE, **sizes}, hidden_act="gelu", layer_norm_eps=1e-5, type_vocab_size=1,
                                  bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD,
                                  position_embedding_type="absolute", attn_implementation="sdpa")
        self.roberta = XLMRobertaModel(config)
        self.transformation = nn.Linear(config.hidden_size, project_dim)
        self.pre_LN = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.penultimate = penultimate
        if penultimate:
            self.transformation_pre = nn.Linear(config.hidden_size, project_dim)
        self.tokenizer_dir: str | Path | None = None
        """``models/xlm-roberta-large`` of the running app, set by the loader."""

    @property
    def tokenizer(self) -> XlmrTokenizer:  # type: ignore[override]
        if self._tokenizer is None:
            path = tokenizer_path(self.tokenizer_dir)
            if not path.is_file():
                raise XlmrMissing(f"AltDiffusion needs XLM-R's tokenizer: put xlm-roberta-large's {TOKENIZER_FILE} "
                                  f"in {path.parent} (nothing is downloaded)")
            self._tokenizer = XlmrTokenizer(path)
        return self._tokenizer

    @property
    def width(self) -> int:
        return self.transformation.out_features

    @property
    def token_embedding(self) -> nn.Embedding:
        """The id -> vector table (textual-inversion vectors replace its output rows)."""
        return self.roberta.embeddings.word_embeddings

    def init_buffers(self, device: torch.device | str) -> None:
        """The non-persistent id buffers a meta build leaves unset."""
        embeddings = self.roberta.embeddings
        n = embeddings.position_embeddings.num_embeddings
        for name, value in (("position_ids", torch.arange(n, device=device).expand(1, -1)),
                            ("token_type_ids", torch.zeros(1, n, dtype=torch.long, device=device))):
            if hasattr(embeddings, name):
                embeddings.register_buffer(name, value, persistent=False)

    def encode_tokens(self, tokens: torch.Tensor, clip_skip: int | None = None,
                      inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """``[batch, 77]`` ids -> ``[batch, 77, project_dim]``; padding (id 1) masked out, as A1111.

        ``clip_skip`` is ignored (A1111: AltDiffusion has none).  ``inputs_embeds`` replaces the word-table
        lookup; the ids still give the position ids (XLM-R counts positions past the padding id).
        """
        table = self.roberta.embeddings.word_embeddings
        tokens = tokens.to(table.weight.device)
        mask = (tokens != PAD).to(torch.int64)
        handle = None
        if inputs_embeds is not None:
            handle = table.register_forward_hook(lambda _m, _i, _o: inputs_embeds.to(_o.dtype))
        try:
            out = self.roberta(input_ids=tokens, attention_mask=mask, output_hidden_states=self.penultimate)
        finally:
            if handle is not None:
                handle.remove()
        if self.penultimate:
            return self.transformation_pre(self.pre_LN(out.hidden_states[-2]))
        return self.transformation(out.last_hidden_state)

    def extra_repr(self) -> str:
        return f"penultimate={self.penultimate}"


def xlmr_sizes(params: dict[str, Any]) -> dict[str, int]:
    """The size overrides a YAML may give (the tiny test models); the released YAMLs give none."""
    return {k: int(v) for k, v in params.items() if k in XLMR_LARGE}
