"""What a Flux checkpoint needs before its weights are assigned (ComfyUI / Forge all-in-one files).

All-in-one files carry the transformer (``model.diffusion_model.*``), CLIP-L
(``text_encoders.clip_l.transformer.*``), T5-XXL (``text_encoders.t5xxl.transformer.*``) and the VAE
under ``vae.*`` (or ``first_stage_model.*``).  A text encoder the file lacks is read from ``models/CLIP``
(``clip_l.safetensors``, ``t5xxl_fp16.safetensors``), with T5's tokenizer ``t5xxl_tokenizer.json``
there too.  Nothing is downloaded: a missing file is an error naming it and the folder.
"""
from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modules.models.checkpoint_io import CheckpointError, read_checkpoint
from modules.models.fp8_storage import Fp8Conv2d, Fp8Linear
from modules.models.precision import STORAGE_DTYPES, DtypePlan
from modules.models.sd3_files import T5_FILE, T5_PREFIX, T5_TOKENIZER_FILE, TEXT_ENCODER_FILES, attach_t5

CLIP_L_PREFIX = "text_encoders.clip_l.transformer."
FP8_LAYERS: dict[type, type] = {nn.Linear: Fp8Linear, nn.Conv2d: Fp8Conv2d}


def _need_file(folder: str | Path | None, filename: str, what: str) -> Path:
    where = folder if folder is not None else "models/CLIP"
    path = Path(folder) / filename if folder is not None else None
    if path is None or not path.is_file():
        raise CheckpointError(f"this Flux checkpoint has no {what}: put {filename} in {where} (nothing is downloaded)")
    return path


def _read_into(sd: MutableMapping[str, Any], path: Path, prefix: str) -> None:
    for key, tensor in read_checkpoint(path).items():
        # files saved from a whole checkpoint keep the prefix; plain transformers files do not
        sd[key if key.startswith(prefix) else prefix + key] = tensor


def prepare_flux_weights(model: Any, sd: MutableMapping[str, Any], folder: str | Path | None) -> None:
    """Rename the VAE to ``first_stage_model.*``, add the text encoders the file lacks, build T5 on ``meta``
    and read its tokenizer.  Raises :class:`CheckpointError` naming the missing file and folder."""
    for key in [k for k in sd if k.startswith("vae.")]:
        sd["first_stage_model." + key[len("vae."):]] = sd.pop(key)
    if not any(k.startswith("first_stage_model.") for k in sd):
        raise CheckpointError("this Flux checkpoint has no VAE (vae.* keys): use an all-in-one checkpoint "
                              "(transformer, text encoders and VAE in one file)")
    if not any(k.startswith(CLIP_L_PREFIX) for k in sd):
        _read_into(sd, _need_file(folder, TEXT_ENCODER_FILES["clip_l"], "CLIP-L text encoder"), CLIP_L_PREFIX)
    if not any(k.startswith(T5_PREFIX) for k in sd):
        _read_into(sd, _need_file(folder, T5_FILE, "T5-XXL text encoder"), T5_PREFIX)
    attach_t5(model, sd, _need_file(folder, T5_TOKENIZER_FILE, "T5 tokenizer"))


def adopt_stored_fp8(model: Any, plan: DtypePlan) -> int:
    """Keep the weights a file stores in FP8 (``flux1-dev-fp8.safetensors``, e4m3fn) in FP8: their
    ``Linear``/``Conv2d`` layers become the FP8-storage layers of :mod:`fp8_storage` (cast per call to the
    plan's dtype); any other FP8 tensor (norm scales, biases) is cast to the plan's dtype.  Returns how many
    layers keep FP8 weights; the model is then marked ``fp8`` as with setting ``fp8_storage``."""
    kept = 0
    parts = ((model.model.diffusion_model, plan.unet), (model.text_encoders, plan.text),
             (model.first_stage_model, plan.vae))
    for part, dtype in parts:
        for layer in part.modules():
            weight = getattr(layer, "weight", None)
            if type(layer) in FP8_LAYERS and weight is not None and weight.dtype in STORAGE_DTYPES:
                layer.__class__ = FP8_LAYERS[type(layer)]
                layer.compute_dtype = dtype
                layer.fp16_weight = None
                kept += 1
                names = [n for n, _ in layer.named_parameters(recurse=False) if n != "weight"]
            else:
                names = [n for n, _ in layer.named_parameters(recurse=False)]
            for name in names:
                param = getattr(layer, name)
                if param is not None and param.dtype in STORAGE_DTYPES:
                    setattr(layer, name, torch.nn.Parameter(param.detach().to(dtype), requires_grad=False))
    if kept:
        model.fp8 = True
        model.fp8_cache_fp16 = False
    return kept
