"""A1111's ``modules.devices``: the device and dtypes of the running app, NaN checks, ``torch_gc``.

``device``, ``dtype``, ``dtype_vae``, ``dtype_unet`` are read from the services' ``device_config``
(``modules.shared.device_config``, set by the bootstrap); before that they describe the best available device in fp32.
"""
from __future__ import annotations

import contextlib
from typing import Any

import torch

from modules.core.services import current_services
from modules.models.devices import DeviceConfig, device_for_task, optimal_device, torch_gc  # noqa: F401
from modules.processing.latents import NansException, test_for_nans  # noqa: F401

cpu = torch.device("cpu")


def _config() -> DeviceConfig:
    services = current_services()
    config = services.device_config
    if config is None:
        config = DeviceConfig.from_cmd_opts(services.cmd_opts)
    return config


def get_optimal_device() -> torch.device:
    return optimal_device(current_services().cmd_opts)


def get_device_for(task: str) -> torch.device:
    return device_for_task(task, current_services().cmd_opts)


def autocast(disable: bool = False) -> Any:
    """``torch.autocast`` on the model's device when the precision plan asks for it, else a no-op."""
    config = _config()
    if disable or not config.plan.autocast:
        return contextlib.nullcontext()
    return torch.autocast(config.device.type)


def without_autocast(disable: bool = False) -> Any:
    return torch.autocast("cuda", enabled=False) if torch.is_autocast_enabled() and not disable else contextlib.nullcontext()


def __getattr__(name: str) -> Any:
    config = _config()
    values = {"device": config.device, "dtype": config.dtype, "dtype_vae": config.dtype_vae,
              "dtype_unet": config.dtype_unet, "unet_needs_upcast": config.plan.upcast_sampling,
              "device_interrogate": get_device_for("interrogate"), "device_gfpgan": get_device_for("gfpgan"),
              "device_esrgan": get_device_for("esrgan"), "device_codeformer": get_device_for("codeformer")}
    if name in values:
        return values[name]
    raise AttributeError(f"module 'modules.devices' has no attribute {name!r}")
