"""Which dtype each part of the model runs in (A1111's ``--no-half``, ``--no-half-vae``,
``--upcast-sampling``, ``--precision``), as plain functions the bootstrap calls.

``alphas_cumprod`` is not a module buffer, so no cast here can touch it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

PRECISIONS = ("autocast", "full", "half")


@dataclass(frozen=True)
class PrecisionOptions:
    no_half: bool = False
    no_half_vae: bool = False
    upcast_sampling: bool = False
    precision: str = "autocast"


@dataclass(frozen=True)
class DtypePlan:
    unet: torch.dtype
    text: torch.dtype
    vae: torch.dtype
    autocast: bool
    """Run the UNet under ``torch.autocast`` (A1111's default on fp16 GPUs)."""
    upcast_sampling: bool
    """Sampler math in fp32, UNet weights in fp16 (the UNet casts its input and output)."""


def plan_dtypes(device: torch.device | str, options: PrecisionOptions | None = None) -> DtypePlan:
    """fp32 on CPU; fp16 on GPUs unless ``no_half``; the VAE separately by ``no_half_vae``."""
    options = options or PrecisionOptions()
    if options.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {options.precision!r}")
    device_type = torch.device(device).type
    half_capable = device_type in ("cuda", "mps", "xpu")
    if options.precision == "half":
        half = not options.no_half
    else:
        half = half_capable and not options.no_half
    model_dtype = torch.float16 if half else torch.float32
    vae_dtype = torch.float32 if (options.no_half_vae or not half) else torch.float16
    upcast = options.upcast_sampling and half
    autocast = half and options.precision == "autocast" and not upcast
    return DtypePlan(model_dtype, model_dtype, vae_dtype, autocast, upcast)


def text_encoders(model: nn.Module) -> nn.Module:
    """``cond_stage_model`` (SD1/SD2) or ``conditioner`` (SDXL)."""
    encoder = getattr(model, "cond_stage_model", None) or getattr(model, "conditioner", None)
    if encoder is None:
        raise ValueError("model has no text encoder (cond_stage_model / conditioner)")
    return encoder


STORAGE_DTYPES = frozenset(d for d in (getattr(torch, "float8_e4m3fn", None), getattr(torch, "float8_e5m2", None)) if d)
"""Storage-only dtypes (FP8 weights, ``fp8_storage.py``): the plan's casts leave them alone."""


def _needs_cast(t: torch.Tensor, dtype: torch.dtype) -> bool:
    return t.is_floating_point() and t.dtype != dtype and t.dtype not in STORAGE_DTYPES


def apply_dtypes(model: nn.Module, plan: DtypePlan) -> None:
    """Cast UNet, text encoders and VAE in place; each part only if it is not already there.

    FP8-stored weights keep their dtype (a plain ``part.to(dtype)`` would undo the FP8 storage).
    """
    for part, dtype in ((model.model.diffusion_model, plan.unet), (text_encoders(model), plan.text),
                        (model.first_stage_model, plan.vae)):
        if any(_needs_cast(p, dtype) for p in part.parameters()):
            part._apply(lambda t, dtype=dtype: t.to(dtype) if _needs_cast(t, dtype) else t)


def set_vae_dtype(model: nn.Module, dtype: torch.dtype) -> None:
    """Switch only the VAE (the NaN fallback to fp32/bf16 after a bad decode)."""
    model.first_stage_model.to(dtype)
