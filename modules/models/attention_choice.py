"""Which attention strategy the loaded model uses: setting ``cross_attention_optimization`` and the flags.

"Automatic" takes the flags' preference (A1111 order: ``--xformers``, ``--opt-sdp-attention`` /
``--opt-sdp-no-mem-attention``, ``--opt-sub-quad-attention``, ``--opt-split-attention`` (and ``-v1``,
``-invokeai``)), else SDP.  A named choice wins over the flags.  xformers is used only when it imports
and the device is CUDA; otherwise there is a warning and SDP.
"""
from __future__ import annotations

import logging
from typing import Any

import torch

from modules.models.attention import (
    AttentionStrategy,
    SdpaAttention,
    SplitAttention,
    SubQuadraticAttention,
    XformersAttention,
)

log = logging.getLogger(__name__)

OPTIMIZATION_NAMES = ("Automatic", "xformers", "sdp", "sdp-no-mem", "sub-quadratic", "Doggettx", "V1", "InvokeAI",
                      "None")
"""The choices of setting ``cross_attention_optimization`` (A1111's optimizer labels)."""


def _flag_preference(cmd_opts: Any) -> str:
    flag = lambda name: bool(getattr(cmd_opts, name, False))  # noqa: E731
    if flag("xformers") or flag("force_enable_xformers"):
        return "xformers"
    if flag("opt_sdp_no_mem_attention"):
        return "sdp-no-mem"
    if flag("opt_sdp_attention"):
        return "sdp"
    if flag("opt_sub_quad_attention"):
        return "sub-quadratic"
    if flag("opt_split_attention") or flag("opt_split_attention_v1") or flag("opt_split_attention_invokeai"):
        return "Doggettx"
    if flag("disable_opt_split_attention"):
        return "None"
    return "sdp"


def choose_attention(cmd_opts: Any, setting: str | None, device: torch.device | str,
                     upcast: bool = False) -> tuple[AttentionStrategy, str | None]:
    """The strategy for ``setting`` (``Automatic`` follows the flags) and a warning to show, if any."""
    wanted = setting if setting and setting != "Automatic" else _flag_preference(cmd_opts)
    warning = None
    if wanted == "xformers":
        if torch.device(device).type != "cuda" and not getattr(cmd_opts, "force_enable_xformers", False):
            warning = "xformers needs a CUDA device; using torch's scaled-dot-product attention instead"
            wanted = "sdp"
        else:
            try:
                return XformersAttention(upcast=upcast), None
            except ImportError:
                warning = "xformers is not installed (add --xformers to install it); using scaled-dot-product attention"
                wanted = "sdp"
    if warning:
        log.warning(warning)
        print(f"Warning: {warning}", flush=True)
    if wanted == "sub-quadratic":
        q_chunk = getattr(cmd_opts, "sub_quad_q_chunk_size", 1024) or 1024
        kv_chunk = getattr(cmd_opts, "sub_quad_kv_chunk_size", None)
        return SubQuadraticAttention(query_chunk=q_chunk, kv_chunk=kv_chunk, upcast=upcast), warning
    if wanted in ("Doggettx", "V1", "InvokeAI"):
        return SplitAttention(upcast=upcast), warning
    if wanted == "None":
        # plain attention, one matrix for all queries (A1111's "no optimization")
        return SplitAttention(query_chunk=1 << 30, upcast=upcast), warning
    return SdpaAttention(upcast=upcast), warning
