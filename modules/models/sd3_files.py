"""SD3 text encoders a checkpoint lacks, read from ``models/CLIP`` (A1111's ``SD3Cond.before_load_weights``).

``sd3_medium.safetensors`` holds only the MMDiT and the VAE; A1111 then fetches
``clip_l.safetensors`` and ``clip_g.safetensors`` into ``models/CLIP``.  Nothing is
downloaded here: a missing file is an error naming it and the folder.  The files
have transformers' key layout (``text_model.*``, CLIP-G's ``text_projection``),
which becomes ``text_encoders.<name>.transformer.*``.
"""
from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from modules.models.checkpoint_io import CheckpointError, read_checkpoint

TEXT_ENCODER_FILES = {"clip_l": "clip_l.safetensors", "clip_g": "clip_g.safetensors"}
T5_FILE = "t5xxl_fp16.safetensors"
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
