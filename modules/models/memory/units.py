"""A unit of weights that can leave the device: moved in by assigning device copies to its tensors'
``.data``, moved out by assigning the home tensors back.

The home tensors (CPU) are read again at every move in, so a weight the patcher (LoRA) or a VAE switch
replaced while the unit was out is the one that moves; moving out restores the very tensor that was
there, so the patcher's (data pointer, version) fingerprints match again and it sees no outside change.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from modules.models.memory.policy import PartSizes


def tensors_of(modules: Sequence[nn.Module]) -> Iterator[torch.Tensor]:
    """Every parameter and buffer of ``modules`` (each once)."""
    seen: set[int] = set()
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            if id(tensor) not in seen:
                seen.add(id(tensor))
                yield tensor


def nbytes(modules: Sequence[nn.Module]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors_of(modules))


class CopyPool:
    """Reused buffers for the CPU stand-in's copies, keyed by element count and dtype.

    Without it every streamed block's copy is a fresh allocation of megabytes, which the C allocator takes
    from the kernel and returns at every free: the page faults then cost more than the copy itself, a cost
    a GPU does not have (its caching allocator keeps freed blocks).  The pool keeps them the same way, so the
    stand-in measures the manager's own work.  Non-contiguous tensors are copied without it.
    """

    def __init__(self) -> None:
        self._free: dict[tuple[int, torch.dtype], list[torch.Tensor]] = {}
        self._in_use: dict[int, torch.Tensor] = {}  # data pointer of a handed-out copy -> its buffer
        self.allocated = 0
        """Bytes of every buffer the pool made (free or in use)."""

    def copy_of(self, home: torch.Tensor) -> torch.Tensor:
        if not home.is_contiguous():
            return home.clone()
        free = self._free.get((home.numel(), home.dtype))
        if free:
            buffer = free.pop()
        else:
            buffer = torch.empty(home.numel(), dtype=home.dtype)
            self.allocated += buffer.numel() * buffer.element_size()
        self._in_use[buffer.data_ptr()] = buffer
        return buffer.view(home.shape).copy_(home)

    def give_back(self, copy: torch.Tensor) -> None:
        buffer = self._in_use.pop(copy.data_ptr(), None)
        if buffer is not None:
            self._free.setdefault((buffer.numel(), buffer.dtype), []).append(buffer)

    def clear(self) -> None:
        """Drop the free buffers (those in use are freed when given back)."""
        self._free.clear()
        self.allocated = sum(b.numel() * b.element_size() for b in self._in_use.values())


class WeightUnit:
    """Modules whose weights move together (the text encoder, the VAE, the UNet, or one UNet block)."""

    def __init__(self, name: str, modules: Sequence[nn.Module]) -> None:
        self.name = name
        self.modules = list(modules)
        self.tensors = list(tensors_of(self.modules))
        self.nbytes = sum(t.numel() * t.element_size() for t in self.tensors)
        self._homes: list[torch.Tensor] | None = None
        self._pool: CopyPool | None = None
        self.pending: Any = None
        """What a transfer waits on before the unit is used (a CUDA event of the prefetch stream)."""

    @property
    def on_device(self) -> bool:
        return self._homes is not None

    def move_in(self, device: torch.device, non_blocking: bool = False, copy: bool = False,
                pool: CopyPool | None = None) -> None:
        """Put device copies in place of the home tensors; ``copy`` forces a copy when home is the device
        (the CPU stand-in for a GPU in tests and the bench, so that bytes really move), into buffers of
        ``pool`` when one is given (they go back to it at :meth:`move_out`)."""
        if self._homes is not None:
            return
        homes = [t.data for t in self.tensors]
        for tensor, home in zip(self.tensors, homes):
            if pool is not None:
                tensor.data = pool.copy_of(home)
            else:
                tensor.data = home.to(device, non_blocking=non_blocking, copy=copy)
        self._homes = homes
        self._pool = pool

    def move_out(self) -> None:
        """Give every tensor its home back; the device copies are freed with their last reference."""
        if self._homes is None:
            return
        for tensor, home in zip(self.tensors, self._homes):
            if self._pool is not None:
                self._pool.give_back(tensor.data)
            tensor.data = home
        self._homes = None
        self._pool = None
        self.pending = None

    def pin(self) -> None:
        """Page-lock the home tensors (CUDA: lets the prefetch copy run while the compute stream works)."""
        if self._homes is None:
            for tensor in self.tensors:
                if tensor.device.type == "cpu" and not tensor.is_pinned():
                    tensor.data = tensor.data.pin_memory()


def unet_blocks(unet: nn.Module) -> dict[str, nn.Module]:
    """The UNet's streamable blocks in call order: ``input_blocks.N``, ``middle_block``, ``output_blocks.N``
    (SD3's MMDiT: ``joint_blocks.N``; Flux: ``double_blocks.N`` then ``single_blocks.N``)."""
    if hasattr(unet, "joint_blocks"):
        return {f"joint_blocks.{i}": b for i, b in enumerate(unet.joint_blocks)}
    if hasattr(unet, "double_blocks"):  # Flux: the double-stream blocks, then the single-stream ones
        return {**{f"double_blocks.{i}": b for i, b in enumerate(unet.double_blocks)},
                **{f"single_blocks.{i}": b for i, b in enumerate(unet.single_blocks)}}
    blocks: dict[str, nn.Module] = {f"input_blocks.{i}": b for i, b in enumerate(unet.input_blocks)}
    blocks["middle_block"] = unet.middle_block
    blocks.update({f"output_blocks.{i}": b for i, b in enumerate(unet.output_blocks)})
    return blocks


def text_encoder_of(model: nn.Module) -> nn.Module:
    return model.conditioner if getattr(model, "is_sdxl", False) else model.cond_stage_model


def part_sizes(model: nn.Module) -> PartSizes:
    """The bytes of each unit of a loaded model (what :func:`policy.plan` decides from)."""
    unet = model.model.diffusion_model
    blocks = unet_blocks(unet)
    block_bytes = {name: nbytes([b]) for name, b in blocks.items()}
    return PartSizes(text_encoder=nbytes([text_encoder_of(model)]), vae=nbytes([model.first_stage_model]),
                     unet_core=nbytes([unet]) - sum(block_bytes.values()), blocks=block_bytes)
