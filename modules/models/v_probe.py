"""A1111's SD2 eps/v test: run the UNet once on a constant input at t=999.

A v-prediction model's output is far from its input there; A1111 calls it v
when ``mean(out - in) < -1``.  The UNet is built on the meta device and takes
the checkpoint's own tensors (``assign``), so the probe copies no weights.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from modules.models.config_registry import build_from_config
from modules.models.model_config import bundled_config, read_config

UNET_PREFIX = "model.diffusion_model."


def mean_output_shift(state_dict: Mapping[str, torch.Tensor],
                      config: Mapping[str, Any] | str = "v2-inference.yaml") -> float:
    """``mean(unet(x, 999, c) - x)`` for x = c = 0.5 everywhere, in the checkpoint's dtype and device.

    ``config`` is a bundled YAML name or a parsed config (tests use tiny ones).
    """
    unet_sd = {k[len(UNET_PREFIX):]: v for k, v in state_dict.items() if k.startswith(UNET_PREFIX)}
    source = config if isinstance(config, str) else "<probe config>"
    parsed = read_config(bundled_config(config)) if isinstance(config, str) else config
    with torch.device("meta"):
        model = build_from_config(parsed, source)
    unet = model.model.diffusion_model
    unet.load_state_dict(unet_sd, strict=True, assign=True)
    weight = unet.time_embed[0].weight
    x = torch.full((1, unet.in_channels, 8, 8), 0.5, device=weight.device, dtype=weight.dtype)
    context = torch.full((1, 2, unet.context_dim), 0.5, device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        out = unet(x, torch.tensor([999.0], device=weight.device), context=context)
    return (out.float() - x.float()).mean().item()


def is_v_prediction(state_dict: Mapping[str, torch.Tensor],
                    config: Mapping[str, Any] | str = "v2-inference.yaml") -> bool:
    return mean_output_shift(state_dict, config) < -1.0
