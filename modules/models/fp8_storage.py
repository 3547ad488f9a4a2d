"""FP8 weight storage (A1111's settings ``fp8_storage`` and ``cache_fp16_weight``).

The weights of every ``Linear`` and ``Conv2d`` layer outside the VAE (the UNet and the text
encoders, the layers A1111 converts) are kept as ``torch.float8_e4m3fn``: a quarter of their fp32
size, half of fp16.  Each such layer instance gets a subclass whose ``forward`` casts its weight to
the layer's compute dtype (the dtype the precision plan gave that part) for the one matmul or
convolution; the class of every other layer, and ``torch.nn.Linear.forward`` itself, are left alone.
Biases stay in the compute dtype: they are 0.1 % of the bytes, and in fp8 (3 mantissa bits) they
would move every output of the layer by up to 6 %.

Turning FP8 off needs the file's weights back, so a change of the setting reloads the checkpoint
(as A1111 does); nothing here converts back.

With ``cache_fp16_weight`` each converted layer keeps an fp16 copy of its weight on the CPU, taken
before the cast (``fp16_weight``, A1111's attribute name); the weight patcher merges LoRA from it
(:func:`lora_merge_source`) instead of from the coarser fp8 weight.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from modules.models.precision import DtypePlan, text_encoders

FP8_DTYPE: torch.dtype | None = getattr(torch, "float8_e4m3fn", None)
"""The storage dtype (``None`` on a torch without float8, before 2.1)."""

MODES = ("Disable", "Enable for SDXL", "Enable")
"""The choices of setting ``fp8_storage``."""


@dataclass(frozen=True)
class Fp8Settings:
    """Setting ``fp8_storage`` (one of :data:`MODES`) and ``cache_fp16_weight``."""

    mode: str = "Disable"
    cache_fp16: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"fp8_storage must be one of {', '.join(MODES)}, not {self.mode!r}")

    @classmethod
    def from_opts(cls, opts: Any) -> "Fp8Settings":
        """The settings of an options object (``shared.opts``); missing keys read as A1111's defaults."""
        return cls(str(getattr(opts, "fp8_storage", "Disable") or "Disable"),
                   bool(getattr(opts, "cache_fp16_weight", False)))

    def applies(self, is_sdxl: bool, device: torch.device | str) -> bool:
        """Whether a model of this kind, on this device, is stored in FP8 (A1111's ``check_fp8``)."""
        if self.mode == "Disable" or FP8_DTYPE is None:
            return False
        if torch.device(device).type == "mps":
            return False  # MPS has no float8 tensors; A1111 turns FP8 off there too
        return self.mode == "Enable" or is_sdxl


class Fp8Linear(nn.Linear):
    """A ``Linear`` whose weight is stored in FP8 and cast to ``compute_dtype`` for each call."""

    compute_dtype: torch.dtype
    fp16_weight: torch.Tensor | None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight.to(self.compute_dtype), self.bias)


class Fp8Conv2d(nn.Conv2d):
    """A ``Conv2d`` whose weight is stored in FP8 and cast to ``compute_dtype`` for each call."""

    compute_dtype: torch.dtype
    fp16_weight: torch.Tensor | None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight.to(self.compute_dtype), self.bias)


_FP8_CLASS: dict[type, type] = {nn.Linear: Fp8Linear, nn.Conv2d: Fp8Conv2d}
"""Exact layer classes converted; subclasses with a ``forward`` of their own are left in full precision."""


def compute_dtype(layer: nn.Module) -> torch.dtype:
    """The dtype ``layer`` computes in: its FP8 layer's compute dtype, else its weight's dtype."""
    return getattr(layer, "compute_dtype", None) or layer.weight.dtype


def stored_in_fp8(layer: nn.Module) -> bool:
    return isinstance(layer, (Fp8Linear, Fp8Conv2d))


def _convert(layer: nn.Module, dtype: torch.dtype, cache_fp16: bool) -> None:
    weight = layer.weight.detach()
    layer.__class__ = _FP8_CLASS[type(layer)]
    layer.compute_dtype = dtype
    # kept on the CPU whatever the device, as A1111 keeps it: GPU memory is what FP8 is saving
    layer.fp16_weight = weight.to("cpu", torch.float16, copy=True) if cache_fp16 else None
    layer.weight = nn.Parameter(weight.to(FP8_DTYPE), requires_grad=False)


def store_fp8(model: nn.Module, plan: DtypePlan, cache_fp16: bool = False) -> int:
    """Convert the UNet's and text encoders' ``Linear``/``Conv2d`` weights to FP8 in place; returns how many.

    Done right after the checkpoint's tensors are assigned, before the precision plan's casts, so a
    full fp32 copy of those weights never exists.  Marks the model ``fp8 = True`` (A1111's ``devices.fp8``).
    """
    if FP8_DTYPE is None:
        raise RuntimeError(f"FP8 weight storage needs torch >= 2.1 (this is {torch.__version__})")
    converted = 0
    for part, dtype in ((model.model.diffusion_model, plan.unet), (text_encoders(model), plan.text)):
        for layer in list(part.modules()):
            if type(layer) in _FP8_CLASS and layer.weight.is_floating_point():
                _convert(layer, dtype, cache_fp16)
                converted += 1
    model.fp8 = True
    model.fp8_cache_fp16 = cache_fp16
    return converted


def lora_merge_source(module: nn.Module, attr: str, param: torch.Tensor) -> torch.Tensor | None:
    """The fp16 copy to merge patches from instead of the FP8 weight ``param`` (``None``: merge from ``param``).

    Only while the copy still is that weight: cast to FP8 it must equal ``param`` bit for bit (a weight
    replaced since the copy was taken, e.g. by ``load_state_dict``, merges from itself).
    """
    cache = getattr(module, "fp16_weight", None)
    if attr != "weight" or cache is None or param.dtype != FP8_DTYPE or cache.shape != param.shape:
        return None
    as_stored = cache.to(device=param.device, dtype=FP8_DTYPE).view(torch.uint8)
    return cache if torch.equal(as_stored, param.detach().view(torch.uint8)) else None


def fp8_state(model: Any) -> tuple[bool, bool]:
    """``(stored in FP8, fp16 cache kept)`` of a loaded model."""
    fp8 = bool(getattr(model, "fp8", False))
    return fp8, fp8 and bool(getattr(model, "fp8_cache_fp16", False))


def wanted_state(settings: Fp8Settings, model: Any, device: torch.device | str) -> tuple[bool, bool]:
    """What :func:`fp8_state` a load of ``model``'s checkpoint with ``settings`` would give."""
    fp8 = settings.applies(bool(getattr(model, "is_sdxl", False)), device)
    return fp8, fp8 and settings.cache_fp16
