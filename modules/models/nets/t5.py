"""SD3's T5-XXL text encoder (``text_encoders.t5xxl.transformer.*``) and its tokenizer, offline.

The network is transformers' ``T5EncoderModel`` built from a config in code (T5 v1.1:
gated GELU, no biases, relative position buckets), so the checkpoint's keys are its
state-dict keys.  The tokenizer is the SentencePiece vocabulary of ``google/t5-v1_1-xxl``
read from a ``tokenizer.json`` on disk (A1111 fetches it from the hub; nothing is
downloaded here).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import T5Config, T5EncoderModel

T5_XXL_SIZES = dict(d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64, vocab_size=32128)
"""A1111's ``T5_CONFIG`` for SD3 (T5 v1.1 XXL's encoder)."""

END_ID = 1
PAD_ID = 0
"""``</s>`` and ``<pad>`` of T5's vocabulary (A1111 reads them from the tokenizer)."""


def t5_config(**sizes: int) -> T5Config:
    """T5 v1.1's encoder config at the given (default XXL) sizes."""
    return T5Config(**{**T5_XXL_SIZES, **sizes}, feed_forward_proj="gated-gelu", relative_attention_num_buckets=32,
                    relative_attention_max_distance=128, layer_norm_epsilon=1e-6, dropout_rate=0.0,
                    is_encoder_decoder=False, use_cache=False, pad_token_id=PAD_ID, eos_token_id=END_ID)


class T5XxlEncoder(nn.Module):
    """Token ids -> the final (normed) hidden state ``[batch, tokens, d_model]``."""

    def __init__(self, **sizes: int) -> None:
        super().__init__()
        self.transformer = T5EncoderModel(t5_config(**sizes))

    @property
    def width(self) -> int:
        return self.transformer.config.d_model

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens.to(self.transformer.shared.weight.device)
        return self.transformer(input_ids=tokens).last_hidden_state


class T5Tokenizer:
    """``tokenizer.json`` of ``google/t5-v1_1-xxl`` through the ``tokenizers`` library; ids without specials."""

    def __init__(self, path: str | Path) -> None:
        from tokenizers import Tokenizer  # the library on first use: only SD3 with T5 needs it

        self.path = str(path)
        self._tokenizer = Tokenizer.from_file(self.path)

    def encode(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)
