"""``Linear`` / ``Conv2d`` layers whose weight stays GGUF-quantised in memory and is dequantised per call.

The same shape as :mod:`modules.models.fp8_storage`: each converted layer instance gets a subclass whose
``forward`` expands its weight for the one matmul or convolution; the class of every other layer, and
``torch.nn.Linear.forward`` itself, are left alone.  The packed bytes are the buffer ``weight_q`` (``uint8``,
moved with the module by ``.to(device)``, never cast by the precision plan); ``weight`` is a read-only
property that dequantises, so code that only reads a layer's weight still sees the full tensor.
Biases are plain tensors (GGUF files keep them in F32/F16).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modules.models.gguf_quants import TYPE_NAMES, dequantize


class _Quantised:
    weight_q: torch.Tensor
    gguf_type: int
    gguf_shape: tuple[int, ...]

    @property
    def weight(self) -> torch.Tensor:
        """The weight, dequantised to float32 on the device of its packed bytes."""
        return dequantize(self.weight_q, self.gguf_type, self.gguf_shape)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, gguf={TYPE_NAMES[self.gguf_type]}"  # type: ignore[misc]


class GGUFLinear(_Quantised, nn.Linear):
    """A ``Linear`` whose weight is kept quantised and dequantised for each call."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight.to(x.dtype), self.bias)


class GGUFConv2d(_Quantised, nn.Conv2d):
    """A ``Conv2d`` whose weight is kept quantised and dequantised for each call."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight.to(x.dtype), self.bias)


_GGUF_CLASS: dict[type, type] = {nn.Linear: GGUFLinear, nn.Conv2d: GGUFConv2d}


def can_hold_quantised(layer: nn.Module) -> bool:
    """Exact ``Linear``/``Conv2d`` only: subclasses with a ``forward`` of their own get a dequantised weight."""
    return type(layer) in _GGUF_CLASS


def store_quantised(layer: nn.Module, packed: torch.Tensor, qtype: int, shape: tuple[int, ...]) -> None:
    """Make ``layer`` keep ``packed`` (its weight's GGUF bytes) and dequantise per call."""
    expected = tuple(layer.weight.shape)
    if tuple(shape) != expected:
        raise ValueError(f"GGUF weight of shape {tuple(shape)} does not fit a layer of weight shape {expected}")
    del layer._parameters["weight"]
    layer.__class__ = _GGUF_CLASS[type(layer)]
    layer.gguf_type = qtype
    layer.gguf_shape = tuple(shape)
    # not persistent: a state dict of the model has no packed bytes under a key no checkpoint uses
    layer.register_buffer("weight_q", packed, persistent=False)


def is_quantised_layer(layer: nn.Module) -> bool:
    return isinstance(layer, _Quantised)


def storage_bytes(module: nn.Module) -> int:
    """Bytes the module's parameters and buffers hold (packed weights at their packed size)."""
    return sum(t.nbytes for t in [*module.parameters(), *module.buffers()])
