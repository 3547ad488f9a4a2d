"""Reading one embedding file into its raw data (a dict), without ever running pickled code."""
from __future__ import annotations

import os
import pickle
from typing import Any

from modules.prompting.textual_inversion.image_data import read_image_embedding

IMAGE_EXTENSIONS = (".PNG", ".WEBP", ".JXL", ".AVIF")
PICKLE_EXTENSIONS = (".BIN", ".PT")
SAFETENSORS_EXTENSIONS = (".SAFETENSORS",)


class EmbeddingFileError(ValueError):
    """An embedding file that cannot or will not be read; the message names the file."""


def is_candidate(filename: str) -> bool:
    """Whether a file name could be an embedding (``*.preview.png`` images are previews, not embeddings)."""
    stem, ext = os.path.splitext(filename)
    ext = ext.upper()
    if ext in IMAGE_EXTENSIONS:
        return os.path.splitext(stem)[1].upper() != ".PREVIEW"
    return ext in PICKLE_EXTENSIONS or ext in SAFETENSORS_EXTENSIONS


def load_pickle_safely(path: str) -> Any:
    """A ``.pt``/``.bin`` through ``torch.load(weights_only=True)``.

    Old A1111 files keep their vectors in a ``torch.nn.ParameterDict``, the one
    class allowed beyond torch's tensor defaults.  Anything else (code,
    arbitrary objects) is refused with :class:`EmbeddingFileError`.
    """
    import torch

    try:
        with torch.serialization.safe_globals([torch.nn.ParameterDict]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise EmbeddingFileError(
            f"refusing to load embedding {path}: it contains objects that are not plain tensors "
            f"({_refusal_detail(e)}); convert it to .safetensors if you trust it") from e
    except (OSError, RuntimeError, EOFError, ValueError) as e:
        raise EmbeddingFileError(f"cannot read embedding {path}: {e}") from e


def _refusal_detail(error: Exception) -> str:
    # torch's message is long; the line naming the refused global is the useful one.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = next((line for line in lines if "GLOBAL" in line or "Unsupported" in line), None)
    if named is None:
        return lines[0] if lines else type(error).__name__
    return named.split(" Please use")[0].removeprefix("WeightsUnpickler error: ")


def read_embedding_data(path: str) -> Any:
    """The raw data of an embedding file, or ``None`` when it is not an embedding (a plain image, another type)."""
    ext = os.path.splitext(path)[1].upper()
    if not is_candidate(os.path.basename(path)):
        return None
    if ext in IMAGE_EXTENSIONS:
        from PIL import Image

        try:
            with Image.open(path) as image:
                return read_image_embedding(image)
        except Exception as e:  # noqa: BLE001 - Pillow, zlib and json each raise their own errors
            raise EmbeddingFileError(f"cannot read embedding image {path}: {e}") from e
    if ext in PICKLE_EXTENSIONS:
        return load_pickle_safely(path)
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, RuntimeError) as e:
        raise EmbeddingFileError(f"cannot read embedding {path}: {e}") from e
