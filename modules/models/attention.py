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


class SubQuadraticAttention:
    """Exact attention over chunks of queries and keys, combined with a running log-sum-exp
    (Rabe & Staats 2021, "Self-attention does not need O(n^2) memory"): memory grows with the chunk sizes,
    not with ``n_query * n_key``.  ``--sub-quad-q-chunk-size`` / ``--sub-quad-kv-chunk-size``."""

    name = "sub-quadratic"

    def __init__(self, query_chunk: int = 1024, kv_chunk: int | None = None, upcast: bool = False) -> None:
        if query_chunk < 1 or (kv_chunk is not None and kv_chunk < 1):
            raise ValueError("chunk sizes must be at least 1")
        self.query_chunk = query_chunk
        self.kv_chunk = kv_chunk
        self.upcast = upcast

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                 causal: bool = False) -> torch.Tensor:
        dtype = q.dtype
        if (self.upcast or causal) and dtype in (torch.float16, torch.bfloat16):
            q, k, v = q.float(), k.float(), v.float()
        qh, kh, vh = _split_heads(q, heads), _split_heads(k, heads), _split_heads(v, heads)
        n_query, n_key = qh.shape[2], kh.shape[2]
        kv_chunk = self.kv_chunk or max(int(math.sqrt(n_key)), 1)
        scale = 1.0 / math.sqrt(qh.shape[-1])
        out = torch.empty_like(qh)
        for qs in range(0, n_query, self.query_chunk):
            qe = min(qs + self.query_chunk, n_query)
            q_part = qh[:, :, qs:qe] * scale
            acc = torch.zeros_like(q_part[..., :1].expand(*q_part.shape[:-1], vh.shape[-1])).float()
            running_max = torch.full(q_part.shape[:-1] + (1,), float("-inf"), device=q.device)
            running_sum = torch.zeros_like(running_max)
            for ks in range(0, n_key, kv_chunk):
                ke = min(ks + kv_chunk, n_key)
                scores = torch.matmul(q_part, kh[:, :, ks:ke].transpose(-1, -2)).float()
                if causal:
                    rows = torch.arange(qs, qe, device=q.device)[:, None]
                    cols = torch.arange(ks, ke, device=q.device)[None, :]
                    scores = scores.masked_fill(cols > rows, float("-inf"))
                chunk_max = scores.amax(dim=-1, keepdim=True)
                new_max = torch.maximum(running_max, chunk_max)
                # rows whose keys are all masked so far keep -inf: use 0 there so exp() stays finite
                safe_max = torch.where(torch.isinf(new_max), torch.zeros_like(new_max), new_max)
                weights = torch.exp(scores - safe_max)
                correction = torch.exp(running_max - safe_max)
                acc = acc * correction + torch.matmul(weights, vh[:, :, ks:ke].float())
                running_sum = running_sum * correction + weights.sum(dim=-1, keepdim=True)
                running_max = new_max
            out[:, :, qs:qe] = (acc / running_sum).to(out.dtype)
        return _merge_heads(out).to(dtype)


class XformersAttention:
    """xformers' memory-efficient attention (``--xformers``; CUDA only, when the package imports)."""

    name = "xformers"

    def __init__(self, upcast: bool = False) -> None:
        import xformers.ops  # noqa: F401  (fails here when xformers is missing: the chooser falls back)

        self.upcast = upcast

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                 causal: bool = False) -> torch.Tensor:
        import xformers.ops

        dtype = q.dtype
        if self.upcast and dtype in (torch.float16, torch.bfloat16):
            q, k, v = q.float(), k.float(), v.float()
        b, n, c = q.shape

        def bhmk(x: torch.Tensor) -> torch.Tensor:
            return x.view(x.shape[0], x.shape[1], heads, c // heads)

        bias = xformers.ops.LowerTriangularMask() if causal else None
        out = xformers.ops.memory_efficient_attention(bhmk(q), bhmk(k), bhmk(v), attn_bias=bias)
        return out.reshape(b, n, c).to(dtype)


STRATEGIES: dict[str, type] = {
    SdpaAttention.name: SdpaAttention,
    SplitAttention.name: SplitAttention,
    SubQuadraticAttention.name: SubQuadraticAttention,
    XformersAttention.name: XformersAttention,
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
