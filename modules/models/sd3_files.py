"""SD3 text encoders a checkpoint lacks, read from ``models/CLIP`` (A1111's ``SD3Cond.before_load_weights``).

``sd3_medium.safetensors`` holds only the MMDiT and the VAE; A1111 then fetches
``clip_l.safetensors`` and ``clip_g.safetensors`` into ``models/CLIP``.  Nothing is
downloaded here: a missing file is an error naming it and the folder.  The files
have transformers' key layout (``text_model.*``, CLIP-G's ``text_projection``),
which becomes ``text_encoders.<name>.transformer.*``.

T5-XXL is built only with setting ``sd3_enable_t5`` (read at load time, as A1111 does), from the
checkpoint's ``text_encoders.t5xxl.*`` or ``models/CLIP/t5xxl_fp16.safetensors``, with the tokenizer
``models/CLIP/t5xxl_tokenizer.json``; when either is missing the T5 part of the conditioning stays
zeros and a notice names the file and folder.
"""
from __future__ import annotations

import logging
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import torch

from modules.models.checkpoint_io import CheckpointError, read_checkpoint
from modules.models.nets.t5 import T5Tokenizer

log = logging.getLogger(__name__)

TEXT_ENCODER_FILES = {"clip_l": "clip_l.safetensors", "clip_g": "clip_g.safetensors"}
T5_FILE = "t5xxl_fp16.safetensors"
T5_TOKENIZER_FILE = "t5xxl_tokenizer.json"
"""``tokenizer.json`` of google/t5-v1_1-xxl (``tokenizer_3/`` of the SD3 diffusers repository), renamed."""
T5_PREFIX = "text_encoders.t5xxl.transformer."
T5_TIED = ("shared.weight", "encoder.embed_tokens.weight")
PROBE_KEYS = {name: f"text_encoders.{name}.transformer.text_model.embeddings.position_embedding.weight"
              for name in TEXT_ENCODER_FILES}
"""A1111's test of whether the checkpoint carries each text encoder."""


def missing_text_encoders(keys: Any) -> list[str]:
    """Names (``clip_l``, ``clip_g``) of the text encoders a checkpoint with these keys does not carry."""
    return [name for name, probe in PROBE_KEYS.items() if probe not in keys]


def add_missing_text_encoders(sd: MutableMapping[str, Any], folder: str | Path | None) -> list[str]:
    """Put the weights of each text encoder the checkpoint lacks into ``sd`` from ``folder``; returns the
    files read.  Raises :class:`CheckpointError` naming the file and folder when one is not there."""
    read = []
    for name in missing_text_encoders(sd):
        filename = TEXT_ENCODER_FILES[name]
        if folder is None:
            raise CheckpointError(f"this SD3 checkpoint has no {name} text encoder and no text encoder folder "
                                  f"is known: put {filename} in models/CLIP")
        path = Path(folder) / filename
        if not path.is_file():
            raise CheckpointError(f"this SD3 checkpoint has no {name} text encoder: put {filename} in {folder} "
                                  "(nothing is downloaded)")
        prefix = f"text_encoders.{name}.transformer."
        for key, tensor in read_checkpoint(path).items():
            # files saved from a whole SD3 checkpoint keep the prefix; plain transformers files do not
            sd[key if key.startswith(prefix) else prefix + key] = tensor
        read.append(str(path))
    return read


def prepare_sd3_weights(model: Any, sd: MutableMapping[str, Any], folder: str | Path | None,
                        enable_t5: bool) -> None:
    """Everything an SD3 checkpoint needs before its weights are assigned: the CLIPs it lacks, and T5-XXL
    (built on ``meta`` when enabled and available; otherwise its keys are dropped from ``sd``)."""
    add_missing_text_encoders(sd, folder)
    t5_keys = [k for k in sd if k.startswith(T5_PREFIX)]
    if not enable_t5:
        for key in t5_keys:
            del sd[key]
        return
    missing = []
    if not t5_keys:
        path = Path(folder) / T5_FILE if folder is not None else None
        if path is not None and path.is_file():
            for key, tensor in read_checkpoint(path).items():
                sd[key if key.startswith(T5_PREFIX) else T5_PREFIX + key] = tensor
        else:
            missing.append(T5_FILE)
    tokenizer = Path(folder) / T5_TOKENIZER_FILE if folder is not None else None
    if tokenizer is None or not tokenizer.is_file():
        missing.append(T5_TOKENIZER_FILE)
    if missing:
        print(f"SD3: T5 is enabled but {' and '.join(missing)} not found in {folder or 'models/CLIP'} "
              "(nothing is downloaded): the T5 part of the conditioning stays zeros", flush=True)
        for key in [k for k in sd if k.startswith(T5_PREFIX)]:
            del sd[key]
        return
    attach_t5(model, sd, tokenizer)
    log.info("SD3: T5-XXL loaded with tokenizer %s", tokenizer)


def attach_t5(model: Any, sd: MutableMapping[str, Any], tokenizer: str | Path) -> None:
    """Give ``model.text_encoders`` its T5-XXL encoder (built on meta, filled from ``sd`` by the loader) and the
    tokenizer file; both names of T5's token table are in ``sd`` afterwards (files keep one or both)."""
    first, second = (T5_PREFIX + name for name in T5_TIED)
    if first in sd or second in sd:
        sd.setdefault(first, sd.get(second))
        sd.setdefault(second, sd[first])
    with torch.device("meta"):
        model.text_encoders.add_t5()
    model.text_encoders.t5_tokenizer = T5Tokenizer(tokenizer)
