"""Tiny random Flux checkpoints in the all-in-one single-file key layout (``tiny_factory`` conventions).

The YAML written next to the ``.safetensors`` is ``flux1-inference.yaml`` with sizes set: a transformer
of width 32 (two 16-wide heads, RoPE axes 4/6/6), two double and two single blocks; CLIP-L of width 32;
a tiny T5 (width 32, the transformer's context width); a VAE that still downsamples by 8 into 16
channels.  The VAE is stored under ``vae.*`` as ComfyUI's all-in-one Flux files do.
:func:`modules.models.tiny_sd3.write_tiny_t5_tokenizer` writes the matching tokenizer.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from safetensors.torch import save_file

from modules.models.config_registry import build_from_config
from modules.models.model_config import bundled_config, read_config
from modules.models.tiny_factory import CLIP_SIZES, TEXT_WIDTH, _perturb_norms
from modules.models.tiny_sd3 import TINY_T5, TINY_VAE

TINY_FLUX = dict(width=32, heads=2, depth=2, depth_single=2, in_channels=64, context_dim=TINY_T5["d_model"],
                 vec_dim=TEXT_WIDTH, axes_dim=[4, 6, 6])


def tiny_flux_config(schnell: bool = False) -> dict[str, Any]:
    config = copy.deepcopy(read_config(bundled_config("flux1-inference.yaml")))
    config["model"]["params"].update(transformer={**TINY_FLUX, "guidance": not schnell}, vae=dict(TINY_VAE),
                                     clip_l=dict(CLIP_SIZES), t5xxl=dict(TINY_T5))
    return config


def tiny_flux_state_dict(seed: int = 0, dtype: torch.dtype = torch.float32,
                         schnell: bool = False) -> dict[str, torch.Tensor]:
    """Random weights under the all-in-one checkpoint's keys (VAE under ``vae.*``)."""
    torch.manual_seed(seed)
    model = build_from_config(tiny_flux_config(schnell), "tiny flux")
    model.text_encoders.add_t5()
    _perturb_norms(model)
    sd = {}
    for key, value in model.state_dict().items():
        if key.startswith("first_stage_model."):
            key = "vae." + key[len("first_stage_model."):]
        # clone: T5 ties two keys to one tensor, and safetensors stores no shared tensors
        sd[key] = value.detach().to(dtype).clone()
    return sd


def make_tiny_flux_checkpoint(directory: str | Path, name: str = "tiny-flux", seed: int = 0,
                              dtype: torch.dtype = torch.float32, schnell: bool = False,
                              write_yaml: bool = True) -> Path:
    """Write ``<name>.safetensors`` (and ``<name>.yaml`` with the tiny sizes) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sd = tiny_flux_state_dict(seed, dtype, schnell)
    path = directory / f"{name}.safetensors"
    save_file(sd, str(path), metadata={"modelspec.title": name})
    if write_yaml:
        OmegaConf.save(OmegaConf.create(tiny_flux_config(schnell)), directory / f"{name}.yaml")
    return path
