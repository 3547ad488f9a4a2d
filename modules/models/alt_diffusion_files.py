"""AltDiffusion's tokenizer file, checked when the model loads (A1111 fetches ``xlm-roberta-large`` from the hub).

The checkpoint holds XLM-R's weights but not its SentencePiece vocabulary; here it is read from
``models/xlm-roberta-large/tokenizer.json`` and never downloaded: missing, loading fails with a message
naming the file and the folder, before any prompt is encoded.
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from modules.models.checkpoint_io import CheckpointError
from modules.models.nets.xlmr_text import TOKENIZER_FILE, XlmrTextEmbedder, tokenizer_path


def attach_xlmr_tokenizer(model: nn.Module, folder: str | Path | None, checkpoint: str | Path) -> bool:
    """Point an AltDiffusion model's text encoder at the tokenizer folder; True if the model is AltDiffusion."""
    embedder = getattr(model, "cond_stage_model", None)
    if not isinstance(embedder, XlmrTextEmbedder):
        return False
    path = tokenizer_path(folder)
    if not path.is_file():
        raise CheckpointError(f"{checkpoint}: AltDiffusion needs XLM-R's tokenizer: put xlm-roberta-large's "
                              f"{TOKENIZER_FILE} in {path.parent} (nothing is downloaded)")
    embedder.tokenizer_dir = path.parent
    return True


def alt_diffusion_family(model: nn.Module) -> str | None:
    """``alt-diffusion-m18`` / ``alt-diffusion`` (m9) for a model with A1111's XLM-R encoder, else None."""
    embedder = getattr(model, "cond_stage_model", None)
    if not isinstance(embedder, XlmrTextEmbedder):
        return None
    return "alt-diffusion-m18" if embedder.penultimate else "alt-diffusion"
