"""Creating an embedding file from words (the Train tab's "Create embedding", ``POST /sdapi/v1/create/embedding``).

The new embedding's vectors start as the token-table vectors of the
initialization text, spread over the requested number of vectors (A1111's
rule), in A1111's ``.pt`` layout, so A1111 and this web UI read each other's files.
"""
from __future__ import annotations

import os
from typing import Any

import torch

from modules.core.file_naming import CreationError, sanitize_name  # noqa: F401  (names callers import from here)
from modules.core.services import current_services


def initial_vectors(text_conditioning: Any, init_text: str, num_vectors_per_token: int) -> torch.Tensor:
    """``[n, width]``: vector i is the init text's token vector at ``i * tokens // n`` (zeros without a text)."""
    embedded = text_conditioning.encode_embedding_init_text(init_text or "*", num_vectors_per_token)
    vec = torch.zeros((num_vectors_per_token, embedded.shape[1]), dtype=torch.float32)
    if init_text:
        for i in range(num_vectors_per_token):
            vec[i] = embedded[i * int(embedded.shape[0]) // num_vectors_per_token].float().cpu()
    return vec


def embedding_file_data(vec: torch.Tensor, name: str, step: int = 0, sd_checkpoint: str | None = None,
                        sd_checkpoint_name: str | None = None) -> dict[str, Any]:
    """A1111's ``Embedding.save`` dictionary."""
    return {"string_to_token": {"*": 265}, "string_to_param": {"*": vec}, "name": name, "step": step,
            "sd_checkpoint": sd_checkpoint, "sd_checkpoint_name": sd_checkpoint_name}


def create_embedding(name: str, num_vectors_per_token: int, overwrite_old: bool, init_text: str = "*") -> str:
    """Write ``<embeddings dir>/<name>.pt`` for the loaded model; returns its path (A1111's signature)."""
    services = current_services()
    model = services.sd_model
    conditioning = getattr(model, "text_conditioning", None)
    if conditioning is None:
        raise CreationError("No model is loaded: an embedding is made for the loaded model's text encoder.")
    try:
        count = int(num_vectors_per_token)
    except (TypeError, ValueError):
        raise CreationError(f"Number of vectors per token must be a whole number, got {num_vectors_per_token!r}")
    if not 1 <= count <= 75:
        raise CreationError("Number of vectors per token must be between 1 and 75.")
    clean = sanitize_name(name)
    filename = os.path.join(services.cmd_opts.embeddings_dir, f"{clean}.pt")
    if not overwrite_old and os.path.exists(filename):
        raise CreationError(f"file {filename} already exists")
    with torch.no_grad():
        vec = initial_vectors(conditioning, init_text, count)
    os.makedirs(os.path.dirname(filename), exist_ok=True)
    torch.save(embedding_file_data(vec, clean), filename)
    return filename


def create_embedding_and_reload(name: str, num_vectors_per_token: int, overwrite_old: bool,
                                init_text: str = "*") -> str:
    """Create, then read the embeddings folder again so the new word works in the next prompt."""
    filename = create_embedding(name, num_vectors_per_token, overwrite_old, init_text)
    embeddings = current_services().embeddings
    if embeddings is not None:
        embeddings.load_textual_inversion_embeddings(force_reload=True)
    return filename
