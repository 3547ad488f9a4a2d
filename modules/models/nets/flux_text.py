"""Flux's text encoders (``text_encoders.clip_l`` / ``text_encoders.t5xxl``), as Forge drives them.

CLIP-L gives only its pooled vector (the final-norm output at the end token of the first
77-token chunk); the token sequence is T5-XXL's last hidden state over the prompt: its pieces'
tokens (emphasis parsed, ``BREAK`` dropped; weights are not applied), the end id, then padding to
at least 256 tokens (Forge's ``T5TextProcessingEngine`` minimum length).  A prompt containing
``SPLIT`` gives the text before it to T5 and the text after it to CLIP-L, as Forge does.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from modules.models.nets.clip_text import ClipTextEmbedder
from modules.models.nets.sd3_text import CLIP_L_SIZES, t5_prompt_ids
from modules.models.nets.t5 import PAD_ID, T5_XXL_SIZES, T5Tokenizer, T5XxlEncoder

T5_MIN_LENGTH = 256


class FluxClipEmbedder(ClipTextEmbedder):
    """CLIP-L returning ``(last hidden state, pooled)`` per chunk; the prompting layer drives it."""

    always_return_pooled = True

    def encode_tokens(self, tokens: torch.Tensor, clip_skip: int | None = None,
                      inputs_embeds: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``[batch, 77]`` ids -> (last hidden state, pooled); clip skip does not apply (Forge fixes layer 1)."""
        model = self.transformer.text_model
        tokens = tokens.to(model.embeddings.token_embedding.weight.device)
        handle = None
        if inputs_embeds is not None:  # textual-inversion vectors stand in for the looked-up rows
            handle = model.embeddings.token_embedding.register_forward_hook(lambda _m, _i, _o: inputs_embeds)
        try:
            out = model(input_ids=tokens)
        finally:
            if handle is not None:
                handle.remove()
        return out.last_hidden_state, out.pooler_output


class FluxTextEncoders(nn.Module):
    """``text_encoders.*``: CLIP-L and T5-XXL (built by the loader once its weights are known)."""

    t5_prompt_parser: Callable[[str], list[tuple[str, float]]] | None = None
    """The prompting layer's emphasis parser for T5's tokens (None: the whole prompt as one piece)."""

    def __init__(self, clip_l_sizes: dict[str, int] | None = None, t5_sizes: dict[str, int] | None = None) -> None:
        super().__init__()
        self.clip_l = FluxClipEmbedder(layer="last", **{**CLIP_L_SIZES, **(clip_l_sizes or {})})
        self.t5_sizes = {**T5_XXL_SIZES, **(t5_sizes or {})}
        self.t5xxl: T5XxlEncoder | None = None
        self.t5_tokenizer: T5Tokenizer | None = None

    def add_t5(self) -> T5XxlEncoder:
        self.t5xxl = T5XxlEncoder(**self.t5_sizes)
        return self.t5xxl

    def t5_tokens(self, text: str) -> list[int]:
        if self.t5_tokenizer is None:
            raise RuntimeError("Flux needs T5's tokenizer: put t5xxl_tokenizer.json in models/CLIP")
        tokens = t5_prompt_ids(self.t5_tokenizer, self.t5_prompt_parser, text)
        return tokens + [PAD_ID] * (T5_MIN_LENGTH - len(tokens))

    def encode_t5(self, texts: list[str]) -> torch.Tensor:
        if self.t5xxl is None:
            raise RuntimeError("Flux needs T5-XXL: put t5xxl_fp16.safetensors in models/CLIP")
        rows = [self.t5_tokens(t) for t in texts]
        length = max(len(r) for r in rows)
        ids = torch.tensor([r + [PAD_ID] * (length - len(r)) for r in rows], dtype=torch.long)
        return self.t5xxl.encode(ids)

    def forward(self, texts: list[str]) -> dict[str, Any]:
        texts = list(texts)
        t5_texts, clip_texts = [], []
        for text in texts:
            before, sep, after = text.partition("SPLIT")
            t5_texts.append(before.strip() if sep else text)
            clip_texts.append(after.strip() if sep else text)
        _, pooled = self.clip_l(clip_texts)
        crossattn = self.encode_t5(t5_texts).to(device=pooled.device, dtype=pooled.dtype)
        return {"crossattn": crossattn, "vector": pooled}
