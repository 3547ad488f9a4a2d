"""Attention strategies: the one place where q/k/v become an attention output.

Every attention layer of the networks (UNet cross/self attention, the VAE's
mid-block attention, the OpenCLIP text towers) holds a reference to a strategy
object and calls it; nothing here is monkey-patched into classes.  The strategy
is chosen once (by the loader or the lead's bootstrap) and swapped with
:func:`set_attention`, which only assigns an attribute on module instances.
"""
from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn


class AttentionStrategy(Protocol):
    """Computes multi-head attention on flattened heads.

    ``q`` is ``[batch, n_query, heads * dim]``; ``k`` and ``v`` are
    ``[batch, n_key, heads * dim]``.  Returns ``[batch, n_query, heads * dim]``.
    ``causal`` masks keys after the query position (text towers).
    """

    name: str

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                 causal: bool = False) -> torch.Tensor: ...


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, c = x.shape
    return x.view(b, n, heads, c // heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


class SdpaAttention:
    """torch's ``scaled_dot_product_attention`` (the default everywhere).

    ``upcast`` computes in fp32 (A1111's "upcast cross attention layer to
    float32"), which avoids fp16 overflow in the softmax on some models.
    """

    name = "sdp"

    def __init__(self, upcast: bool = False) -> None:
        self.upcast = upcast

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                 causal: bool = False) -> torch.Tensor:
        dtype = q.dtype
        if self.upcast and dtype in (torch.float16, torch.bfloat16):
            q, k, v = q.float(), k.float(), v.float()
        out = F.scaled_dot_product_attention(
            _split_heads(q, heads), _split_heads(k, heads), _split_heads(v, heads), is_causal=causal)
        return _merge_heads(out).to(dtype)


class SplitAttention:
    """Attention computed a slice of queries at a time, for low memory.

    Peak memory for the attention matrix drops from ``n_query * n_key`` to
    ``query_chunk * n_key`` per head; results equal :class:`SdpaAttention`.
    """

    name = "split"

    def __init__(self, query_chunk: int = 1024, upcast: bool = False) -> None:
        if query_chunk < 1:
            raise ValueError("query_chunk must be at least 1")
        self.query_chunk = query_chunk
        self.upcast = upcast

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                 causal: bool = False) -> torch.Tensor:
        dtype = q.dtype
        if self.upcast and dtype in (torch.float16, torch.bfloat16):
            q, k, v = q.float(), k.float(), v.float()
        qh, kh, vh = _split_heads(q, heads), _split_heads(k, heads), _split_heads(v, heads)
        n_query, n_key = qh.shape[2], kh.shape[2]
        out = torch.empty_like(qh)
        scale = 1.0 / math.sqrt(qh.shape[-1])
        for start in range(0, n_query, self.query_chunk):
            end = min(start + self.query_chunk, n_query)
            scores = torch.matmul(qh[:, :, start:end], kh.transpose(-1, -2)) * scale
            if causal:
                rows = torch.arange(start, end, device=q.device)[:, None]
                cols = torch.arange(n_key, device=q.device)[None, :]
                scores = scores.masked_fill(cols > rows, float("-inf"))
            out[:, :, start:end] = torch.matmul(scores.softmax(dim=-1), vh)
        return _merge_heads(out).to(dtype)


STRATEGIES: dict[str, type] = {
    SdpaAttention.name: SdpaAttention,
    SplitAttention.name: SplitAttention,
}
"""Strategy names accepted by :func:`make_attention` (A1111's optimization names)."""


def make_attention(name: str = "sdp", **kwargs: object) -> AttentionStrategy:
    """Build a strategy by name; unknown names are an error, not a silent fallback."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown attention strategy {name!r}; known: {sorted(STRATEGIES)}") from None
    return cls(**kwargs)


def set_attention(module: nn.Module, strategy: AttentionStrategy) -> int:
    """Give every attention layer under ``module`` the same strategy; returns how many."""
    count = 0
    for sub in module.modules():
        if hasattr(sub, "attention") and getattr(sub, "uses_attention_strategy", False):
            sub.attention = strategy
            count += 1
    return count
