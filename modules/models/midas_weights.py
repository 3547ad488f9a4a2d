"""MiDaS weights for an SD2-depth model whose checkpoint lacks them, from ``models/midas`` (A1111's folder),
and the depth model's dtype.

Released SD2-depth checkpoints carry the depth model (``depth_model.model.*``); A1111 additionally reads
MiDaS's own release file at build time (and downloads it).  Here that file is read only when the
checkpoint has no depth weights, and never downloaded: missing, it is an error naming it and the folder.
"""
from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import torch

from modules.models.checkpoint_io import CheckpointError, read_checkpoint
from modules.models.precision import DtypePlan
from modules.models.state_dict_fixups import unwrap_state_dict

MIDAS_FILE = "dpt_hybrid-midas-501f0c75.pt"
"""MiDaS v3 DPT-Hybrid, the file name A1111 keeps in ``models/midas``."""
PREFIX = "depth_model.model."


def add_midas_weights(sd: MutableMapping[str, Any], midas_dir: str | Path | None, checkpoint: str | Path,
                      allow_unsafe: bool = False) -> bool:
    """Put MiDaS's weights under ``depth_model.model.`` into ``sd`` when the checkpoint has none; True if added."""
    if any(key.startswith(PREFIX) for key in sd):
        return False
    folder = Path(midas_dir) if midas_dir else Path("models") / "midas"
    path = folder / MIDAS_FILE
    if not path.is_file():
        raise CheckpointError(f"{checkpoint}: this SD2-depth checkpoint has no depth model weights; put MiDaS "
                              f"DPT-Hybrid's {MIDAS_FILE} in {folder} (nothing is downloaded)")
    loaded = unwrap_state_dict(read_checkpoint(path, "cpu", allow_unsafe))
    for key, value in loaded.items():
        if isinstance(value, torch.Tensor):
            sd[PREFIX + key] = value
    return True


def cast_depth_model(model: torch.nn.Module, plan: DtypePlan) -> None:
    """The depth model in the UNet's dtype, or fp32 with ``--upcast-sampling`` (A1111's rule); not in the
    file's (an fp16 file on the CPU would leave it in half precision)."""
    depth = getattr(model, "depth_model", None)
    if depth is not None:
        depth.to(torch.float32 if plan.upcast_sampling else plan.unet)
