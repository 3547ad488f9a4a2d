"""OpenAI CLIP-L text encoder (SD1 ``cond_stage_model``, SDXL ``conditioner.embedders.0``).

The network is ``transformers.CLIPTextModel`` built from a config in code (no
hub access).  transformers 5 flattened that class, so a one-attribute holder
puts it back under ``transformer.text_model.*``, the path checkpoints and
extensions use.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import CLIPTextConfig, CLIPTextModel

from modules.models.nets.text_chunks import ChunkedTextEmbedder
from modules.models.tokenizer import BOS_ID, EOS_ID, VOCAB_SIZE

CLIP_VERSIONS: dict[str, dict[str, Any]] = {
    "openai/clip-vit-large-patch14": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                          intermediate_size=3072),
}
"""Hub names a YAML may give as ``version``, mapped to built-in sizes (nothing is downloaded)."""


def clip_text_config(hidden_size: int = 768, num_hidden_layers: int = 12, num_attention_heads: int = 12,
                     intermediate_size: int = 3072, max_position_embeddings: int = 77) -> CLIPTextConfig:
    """The CLIP-L text config (quick-GELU, 49408 tokens), optionally at a reduced size."""
    return CLIPTextConfig(
        vocab_size=VOCAB_SIZE, hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers, num_attention_heads=num_attention_heads,
        max_position_embeddings=max_position_embeddings, hidden_act="quick_gelu", layer_norm_eps=1e-5,
        bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=1, projection_dim=hidden_size,
        attn_implementation="sdpa")


class TextModelHolder(nn.Module):
    """Gives the flattened ``CLIPTextModel`` its checkpoint path ``text_model``."""

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__()
        self.text_model = CLIPTextModel(config)

    def forward(self, input_ids: torch.Tensor, output_hidden_states: bool = False) -> Any:
        return self.text_model(input_ids=input_ids, output_hidden_states=output_hidden_states)


class ClipTextEmbedder(ChunkedTextEmbedder, nn.Module):
    """LDM/SGM ``FrozenCLIPEmbedder``: token ids -> per-token embeddings.

    ``layer="last"`` (SD1) takes the final hidden state, or with CLIP skip N>1
    the N-th hidden state from the end passed through the final layer norm.
    ``layer="hidden"`` (SDXL) takes hidden state ``layer_idx`` without the norm.
    """

    pad_id = EOS_ID  # transformers' CLIP tokenizer pads with <|endoftext|>
    unescape_html = False

    def __init__(self, layer: str = "last", layer_idx: int | None = None, version: str | None = None,
                 **sizes: int) -> None:
        super().__init__()
        if layer not in ("last", "hidden", "pooled"):
            raise ValueError(f"unknown CLIP layer {layer!r}")
        if layer == "hidden" and layer_idx is None:
            raise ValueError("layer 'hidden' needs layer_idx")
        if version is not None:
            if version not in CLIP_VERSIONS:
                raise ValueError(f"unknown CLIP text model version {version!r}; known: {sorted(CLIP_VERSIONS)}")
            sizes = {**CLIP_VERSIONS[version], **sizes}
        self.layer = layer
        self.layer_idx = layer_idx
        self.transformer = TextModelHolder(clip_text_config(**sizes))

    @property
    def width(self) -> int:
        return self.transformer.text_model.config.hidden_size

    @property
    def token_embedding(self) -> nn.Embedding:
        """The id -> vector table (textual-inversion vectors replace its output rows)."""
        return self.transformer.text_model.embeddings.token_embedding

    def init_buffers(self, device: torch.device | str) -> None:
        """Rebuild the non-persistent ``position_ids`` buffer (left on ``meta`` by a meta-device build)."""
        embeddings = self.transformer.text_model.embeddings
        n = embeddings.position_embedding.num_embeddings
        embeddings.register_buffer("position_ids", torch.arange(n, device=device).expand(1, -1), persistent=False)

    def encode_tokens(self, tokens: torch.Tensor, clip_skip: int | None = None,
                      inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """``[batch, 77]`` ids (with BOS/EOS/padding) -> ``[batch, 77, width]``.

        ``clip_skip`` None keeps the family default; an int N counts hidden
        states from the end (1 = last layer), as A1111's "Clip skip".
        ``inputs_embeds`` (``[batch, 77, width]``) replaces the token-table
        lookup, so textual-inversion vectors can stand in for placeholder ids;
        ``tokens`` still give the sequence length and end positions.
        """
        model = self.transformer.text_model
        tokens = tokens.to(model.embeddings.token_embedding.weight.device)
        if inputs_embeds is None:
            return self._encode(model, tokens, clip_skip)
        # transformers' CLIPTextModel.forward takes ids only; for this one call the
        # table's output is swapped for the given vectors (position embeddings are
        # still added after it, exactly as for looked-up rows).
        handle = model.embeddings.token_embedding.register_forward_hook(lambda _m, _i, _o: inputs_embeds)
        try:
            return self._encode(model, tokens, clip_skip)
        finally:
            handle.remove()

    def _encode(self, model: CLIPTextModel, tokens: torch.Tensor, clip_skip: int | None) -> torch.Tensor:
        if self.layer == "hidden" and clip_skip is None:
            out = model(input_ids=tokens, output_hidden_states=True)
            return out.hidden_states[self.layer_idx]
        if self.layer == "hidden":
            return model(input_ids=tokens, output_hidden_states=True).hidden_states[-clip_skip]
        if clip_skip is None or clip_skip <= 1:
            return model(input_ids=tokens).last_hidden_state
        hidden = model(input_ids=tokens, output_hidden_states=True).hidden_states[-clip_skip]
        return model.final_layer_norm(hidden)
