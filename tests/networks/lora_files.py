"""Writing LoRA files with known tensors for tests (kohya names, optional metadata)."""
from __future__ import annotations

import os
from typing import Iterable

import torch
from safetensors.torch import save_file


def lora_tensors(name: str, out_dim: int, in_dim: int, rank: int, alpha: float | None, seed: int,
                 kernel: tuple[int, ...] = (), scale: float = 0.1) -> dict[str, torch.Tensor]:
    """``<name>.lora_up/down.weight`` (+ ``alpha``) with random values from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    up_shape = (out_dim, rank, 1, 1) if kernel else (out_dim, rank)
    down_shape = (rank, in_dim, *kernel)
    tensors = {
        f"{name}.lora_up.weight": torch.randn(up_shape, generator=g) * scale,
        f"{name}.lora_down.weight": torch.randn(down_shape, generator=g) * scale,
    }
    if alpha is not None:
        tensors[f"{name}.alpha"] = torch.tensor(float(alpha))
    return tensors


def lora_for_layers(index, names: Iterable[str], rank: int = 4, alpha: float | None = 2.0, seed: int = 0,
                    scale: float = 0.1) -> dict[str, torch.Tensor]:
    """A kohya LoRA touching each layer in ``names`` (names as files write them), shaped for ``index``."""
    tensors: dict[str, torch.Tensor] = {}
    for i, name in enumerate(names):
        target = index.get(name)
        assert target is not None, name
        shape = target.shape
        kernel = tuple(shape[2:]) if len(shape) == 4 else ()
        tensors.update(lora_tensors(name, shape[0], shape[1], rank, alpha, seed + i, kernel, scale))
    return tensors


def kohya_names(index, prefix: str = "lora_", kinds: tuple[str, ...] = ("linear", "conv", "attention")) -> list[str]:
    """One kohya-style name (the first alias) per layer of the given kinds."""
    names = []
    for name, target in index.by_name.items():
        if name.startswith(prefix) and target.kind in kinds and name not in names:
            if not any(index.get(n) is target for n in names):
                names.append(name)
    return names


def write(path: str, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata=metadata)
    return path
