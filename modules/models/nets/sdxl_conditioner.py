"""SGM's ``GeneralConditioner`` (``conditioner.embedders.N``) and its size/crop/score embedder.

Each embedder reads one key of the batch; 3-D outputs concatenate on the
feature axis into ``crossattn``, 2-D outputs into ``vector`` (the UNet's ``y``).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from modules.models.nets.common import timestep_embedding


class ConcatTimestepEmbedderND(nn.Module):
    """Fourier-embeds each of the ``[batch, n]`` numbers to ``outdim`` and concatenates them."""

    def __init__(self, outdim: int) -> None:
        super().__init__()
        self.outdim = outdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 1:
            x = x[:, None]
        b, n = x.shape
        return timestep_embedding(x.flatten(), self.outdim).reshape(b, n * self.outdim)


class GeneralConditioner(nn.Module):
    """Runs every embedder on its ``input_key`` and routes outputs by rank."""

    _OUTPUT_BY_RANK = {2: "vector", 3: "crossattn"}

    def __init__(self, embedders: Iterable[nn.Module]) -> None:
        super().__init__()
        self.embedders = nn.ModuleList(embedders)
        for embedder in self.embedders:
            if not hasattr(embedder, "input_key"):
                raise ValueError(f"{type(embedder).__name__} has no input_key")

    def forward(self, batch: Mapping[str, Any], force_zero_embeddings: Iterable[str] = ()) -> dict[str, torch.Tensor]:
        zeroed = set(force_zero_embeddings)
        output: dict[str, torch.Tensor] = {}
        for embedder in self.embedders:
            result = embedder(batch[embedder.input_key])
            for emb in result if isinstance(result, tuple) else (result,):
                key = self._OUTPUT_BY_RANK.get(emb.ndim)
                if key is None:
                    raise ValueError(f"embedder output of rank {emb.ndim} has no conditioning slot")
                if embedder.input_key in zeroed:
                    emb = torch.zeros_like(emb)
                if key in output:
                    emb = torch.cat([output[key], emb.to(output[key].device, output[key].dtype)], dim=-1)
                output[key] = emb
        return output
