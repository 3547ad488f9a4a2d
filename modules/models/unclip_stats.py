"""unCLIP-L's CLIP embedding statistics (Karlo's ``ViT-L-14_stats.th``) from ``models/karlo``.

The noise augmentor's data mean and std are not in the checkpoint (LDM keeps them out of the state dict);
unCLIP-L's YAML names Karlo's stats file, and A1111 redirects its folder to ``models/karlo``, where A1111
ships the file.  Here it is read from that folder (the file name as the YAML gives it) and never
downloaded: missing, it is an error naming the file and the folder.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from modules.models.checkpoint_io import CheckpointError


def load_clip_stats(model: nn.Module, karlo_dir: str | Path | None, checkpoint: str | Path) -> bool:
    """Give ``model.noise_augmentor`` the stats file its YAML names; True if one was read."""
    augmentor = getattr(model, "noise_augmentor", None)
    if augmentor is None or augmentor.clip_stats_path is None:
        return False
    folder = Path(karlo_dir) if karlo_dir else Path("models") / "karlo"
    name = Path(str(augmentor.clip_stats_path).replace("\\", "/")).name
    path = folder / name
    if not path.is_file():
        raise CheckpointError(f"{checkpoint}: this unCLIP checkpoint needs the CLIP embedding statistics {name} "
                              f"in {folder} (A1111 ships it in models/karlo; nothing is downloaded)")
    try:
        # a pair of tensors: weights_only refuses anything that would run code
        mean, std = torch.load(path, map_location="cpu", weights_only=True)
        augmentor.set_stats(mean, std)
    except (ValueError, TypeError, RuntimeError, EOFError, OSError) as e:
        raise CheckpointError(f"{path}: not a (mean, std) pair of CLIP embedding statistics: {e}") from e
    return True


def cast_image_embedder(model: nn.Module, dtype: torch.dtype) -> None:
    """The unCLIP image tower in the UNet's dtype (A1111 casts the whole model), not in the file's; the noise
    augmentor's schedule stays fp32."""
    embedder = getattr(model, "embedder", None)
    if embedder is not None:
        embedder.to(dtype)
