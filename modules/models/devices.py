"""Which device and dtypes the app runs on, chosen once from the flags (A1111's ``modules.devices``).

``--use-cpu all`` (or naming a task: ``sd``, ``esrgan``, ``gfpgan``, ``codeformer``, ``interrogate``)
forces the CPU; ``--device-id N`` picks ``cuda:N``; otherwise CUDA, then MPS, then the CPU.
"""
from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

import torch

from modules.models.precision import DtypePlan, PrecisionOptions, plan_dtypes


def optimal_device(cmd_opts: Any = None) -> torch.device:
    """The best available device (A1111's ``get_optimal_device``)."""
    if torch.cuda.is_available():
        device_id = getattr(cmd_opts, "device_id", None) if cmd_opts is not None else None
        return torch.device(f"cuda:{device_id}" if device_id is not None else "cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_for_task(task: str, cmd_opts: Any = None) -> torch.device:
    """The CPU when ``--use-cpu`` names ``task`` or ``all``, else the optimal device."""
    use_cpu = [x.lower() for x in (getattr(cmd_opts, "use_cpu", None) or [])]
    if "all" in use_cpu or task in use_cpu:
        return torch.device("cpu")
    return optimal_device(cmd_opts)


def precision_options(cmd_opts: Any) -> PrecisionOptions:
    return PrecisionOptions(no_half=bool(getattr(cmd_opts, "no_half", False)),
                            no_half_vae=bool(getattr(cmd_opts, "no_half_vae", False)),
                            upcast_sampling=bool(getattr(cmd_opts, "upcast_sampling", False)),
                            precision=getattr(cmd_opts, "precision", "autocast") or "autocast")


@dataclass(frozen=True)
class DeviceConfig:
    """The running app's device and dtypes (``modules.devices.device``, ``dtype``, ``dtype_vae``...)."""

    device: torch.device
    plan: DtypePlan

    @classmethod
    def from_cmd_opts(cls, cmd_opts: Any) -> "DeviceConfig":
        device = device_for_task("sd", cmd_opts)
        return cls(device, plan_dtypes(device, precision_options(cmd_opts)))

    @property
    def dtype(self) -> torch.dtype:
        return self.plan.unet

    @property
    def dtype_vae(self) -> torch.dtype:
        return self.plan.vae

    @property
    def dtype_unet(self) -> torch.dtype:
        return self.plan.unet


def torch_gc() -> None:
    """Release cached GPU memory (A1111 calls this between steps of a job)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.ipc_collect()
