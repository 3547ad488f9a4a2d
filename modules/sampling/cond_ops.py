"""Batch operations on text conditioning, which is a tensor ``[batch, tokens, width]`` (SD1/SD2) or a dict of
tensors with ``crossattn`` and ``vector`` (SDXL)."""
from __future__ import annotations

from typing import Any

import torch

Cond = Any  # torch.Tensor | dict[str, torch.Tensor]


def catenate_conds(conds: list[Cond]) -> Cond:
    """Concatenate along the batch dimension (key by key for dicts)."""
    if not isinstance(conds[0], dict):
        return torch.cat(conds)
    return {key: torch.cat([c[key] for c in conds]) for key in conds[0].keys()}


def subscript_cond(cond: Cond, a: int, b: int) -> Cond:
    """Rows a..b of the batch."""
    if not isinstance(cond, dict):
        return cond[a:b]
    return {key: vec[a:b] for key, vec in cond.items()}


def cond_rows(cond: Cond) -> int:
    """Batch size."""
    return (cond["crossattn"] if isinstance(cond, dict) else cond).shape[0]


def cond_tokens(cond: Cond) -> int:
    """Number of token positions (77 per prompt chunk)."""
    return (cond["crossattn"] if isinstance(cond, dict) else cond).shape[1]


def pad_cond(cond: Cond, repeats: int, empty: torch.Tensor) -> Cond:
    """Append ``repeats`` copies of the empty prompt's chunk ``empty`` ([1, 77, width]) to every row."""
    if not isinstance(cond, dict):
        return torch.cat([cond, empty.repeat((cond.shape[0], repeats, 1))], dim=1)
    return {**cond, "crossattn": pad_cond(cond["crossattn"], repeats, empty)}


def pad_cond_uncond(cond: Cond, uncond: Cond, empty: torch.Tensor) -> tuple[Cond, Cond]:
    """Pad the shorter of cond/uncond with empty-prompt chunks so both have the same token count
    (setting ``pad_cond_uncond``)."""
    repeats = (cond_tokens(cond) - cond_tokens(uncond)) // empty.shape[1]
    if repeats < 0:
        cond = pad_cond(cond, -repeats, empty)
    elif repeats > 0:
        uncond = pad_cond(uncond, repeats, empty)
    return cond, uncond


def pad_cond_uncond_v0(cond: Cond, uncond: Cond) -> tuple[Cond, Cond]:
    """Match uncond's token count to cond's by repeating uncond's last token vector or truncating it
    (setting ``pad_cond_uncond_v0``; what DDIM did before A1111 1.6)."""
    is_dict = isinstance(uncond, dict)
    uncond_vec = uncond["crossattn"] if is_dict else uncond
    target = cond_tokens(cond)
    if uncond_vec.shape[1] < target:
        last_vector = uncond_vec[:, -1:]
        uncond_vec = torch.hstack([uncond_vec, last_vector.repeat([1, target - uncond_vec.shape[1], 1])])
    elif uncond_vec.shape[1] > target:
        uncond_vec = uncond_vec[:, :target]
    return cond, ({**uncond, "crossattn": uncond_vec} if is_dict else uncond_vec)
