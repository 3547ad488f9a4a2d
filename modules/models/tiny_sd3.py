"""Tiny random SD3 checkpoints with the released single-file key layout (``tiny_factory`` conventions).

The YAML written next to the ``.safetensors`` is A1111's ``sd3-inference.yaml``
with sizes reduced: MMDiT depth 2 at width 32 (two 16-wide heads), CLIP-L/G of
width 32, a VAE that still downsamples by 8 into 16 channels.  The token
sequence stays 4096 wide and the pooled vector is the two CLIP widths joined,
as in the real model.  With ``text_encoders=False`` the checkpoint lacks the
CLIPs, like ``sd3_medium.safetensors``, and they are written as
``clip_l.safetensors`` / ``clip_g.safetensors`` into ``clip_dir`` instead.  With ``t5=True`` it also carries
a tiny T5 encoder (``text_encoders.t5xxl.*``); :func:`write_tiny_t5_tokenizer` writes a matching
``t5xxl_tokenizer.json`` (a small word-level vocabulary in T5's id layout: 0 pad, 1 end, 2 unknown).
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
TINY_T5 = dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, vocab_size=64)
TINY_T5_WORDS = ("a", "photo", "of", "cat", "dog", "red", "cube", "on", "mat", ",")


def tiny_sd3_config() -> dict[str, Any]:
    """A1111's ``sd3-inference.yaml`` as a dict, with the tiny sizes set explicitly."""
    config = copy.deepcopy(read_config(bundled_config("sd3-inference.yaml")))
    config["model"]["params"].update(mmdit=dict(TINY_MMDIT), vae=dict(TINY_VAE), clip_l=dict(CLIP_SIZES),
                                     clip_g=dict(CLIP_SIZES), t5xxl=dict(TINY_T5))
    return config


def tiny_sd3_state_dict(seed: int = 0, dtype: torch.dtype = torch.float32, t5: bool = False) -> dict[str, torch.Tensor]:
    """Random weights under the released checkpoint's keys (CLIPs included, T5 with ``t5``)."""
    torch.manual_seed(seed)
    model = build_from_config(tiny_sd3_config(), "tiny sd3")
    if t5:
        model.text_encoders.add_t5()
    _perturb_norms(model)
    with torch.no_grad():
        # trained position embeddings are not zero; random ones make a wrong crop visible
        model.model.diffusion_model.pos_embed.normal_(0, 0.5)
    # clone: T5 ties two keys to one tensor, and safetensors stores no shared tensors
    return {k: v.detach().to(dtype).clone() for k, v in model.state_dict().items()}


def write_tiny_t5_tokenizer(path: str | Path) -> Path:
    """A ``tokenizer.json`` for the tiny T5: T5's special ids and a few words, split like SentencePiece."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{f"\u2581{w}": 3 + i for i, w in enumerate(TINY_T5_WORDS)}}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                       pre_tokenizers.Punctuation(),
                                                       pre_tokenizers.Metaspace()])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return path


def make_tiny_sd3_checkpoint(directory: str | Path, name: str = "tiny-sd3", seed: int = 0,
                             dtype: torch.dtype = torch.float32, text_encoders: bool = True,
                             clip_dir: str | Path | None = None, t5: bool = False) -> Path:
    """Write ``<name>.safetensors`` and ``<name>.yaml`` into ``directory``; returns the checkpoint path.

    Without ``text_encoders`` the CLIPs go to ``clip_dir`` as transformers-layout files.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sd = tiny_sd3_state_dict(seed, dtype, t5)
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
