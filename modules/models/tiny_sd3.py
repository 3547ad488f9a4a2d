"""Tiny random SD3 checkpoints with the released single-file key layout (``tiny_factory`` conventions).

The YAML written next to the ``.safetensors`` is A1111's ``sd3-inference.yaml``
with sizes reduced: MMDiT depth 2 at width 32 (two 16-wide heads), CLIP-L/G of
width 32, a VAE that still downsamples by 8 into 16 channels.  The token
sequence stays 4096 wide and the pooled vector is the two CLIP widths joined,
as in the real model.  With ``text_encoders=False`` the checkpoint lacks the
CLIPs, like ``sd3_medium.safetensors``, and they are written as
``clip_l.safetensors`` / ``clip_g.safetensors`` into ``clip_dir`` instead.
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

TINY_MMDIT = dict(depth=2, patch_size=2, in_channels=16, pos_embed_max_size=32, adm_in_channels=2 * TEXT_WIDTH,
                  context_dim=4096, head_width=16)
TINY_VAE = dict(ch=32, ch_mult=[1, 1, 1, 1], num_res_blocks=1)


def tiny_sd3_config() -> dict[str, Any]:
    """A1111's ``sd3-inference.yaml`` as a dict, with the tiny sizes set explicitly."""
    config = copy.deepcopy(read_config(bundled_config("sd3-inference.yaml")))
    config["model"]["params"].update(mmdit=dict(TINY_MMDIT), vae=dict(TINY_VAE), clip_l=dict(CLIP_SIZES),
                                     clip_g=dict(CLIP_SIZES))
    return config


def tiny_sd3_state_dict(seed: int = 0, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Random weights under the released checkpoint's keys (text encoders included)."""
    torch.manual_seed(seed)
    model = build_from_config(tiny_sd3_config(), "tiny sd3")
    _perturb_norms(model)
    with torch.no_grad():
        # trained position embeddings are not zero; random ones make a wrong crop visible
        model.model.diffusion_model.pos_embed.normal_(0, 0.5)
    return {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}


def make_tiny_sd3_checkpoint(directory: str | Path, name: str = "tiny-sd3", seed: int = 0,
                             dtype: torch.dtype = torch.float32, text_encoders: bool = True,
                             clip_dir: str | Path | None = None) -> Path:
    """Write ``<name>.safetensors`` and ``<name>.yaml`` into ``directory``; returns the checkpoint path.

    Without ``text_encoders`` the CLIPs go to ``clip_dir`` as transformers-layout files.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sd = tiny_sd3_state_dict(seed, dtype)
    if not text_encoders:
        if clip_dir is None:
            raise ValueError("a checkpoint without text encoders needs clip_dir for them")
        clip_dir = Path(clip_dir)
        clip_dir.mkdir(parents=True, exist_ok=True)
        for part in ("clip_l", "clip_g"):
            prefix = f"text_encoders.{part}.transformer."
            save_file({k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)},
                      str(clip_dir / f"{part}.safetensors"))
        sd = {k: v for k, v in sd.items() if not k.startswith("text_encoders.")}
    path = directory / f"{name}.safetensors"
    save_file(sd, str(path), metadata={"modelspec.title": name})
    OmegaConf.save(OmegaConf.create(tiny_sd3_config()), directory / f"{name}.yaml")
    return path
