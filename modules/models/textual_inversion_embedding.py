"""The textual-inversion :class:`Embedding` object and the data layouts an embedding file may hold.

It lives with the models (below prompting and networks) because both read embeddings: prompting's
database from the embeddings folder, LoRA files from their bundled ``bundle_emb`` tensors.

Layouts (A1111's, tried in this order):

- A1111 / original textual inversion: ``{"string_to_param": {"*": [n, width]}, "name", "step",
  "sd_checkpoint", "sd_checkpoint_name", ...}`` with exactly one tensor;
- SDXL: ``{"clip_l": [n, 768], "clip_g": [n, 1280]}`` (width 2048);
- a dict with one tensor: diffusers concepts ``{"<token>": [width]}``, ``{"emb_params": [n, width]}``;
  a 1-D tensor is one vector.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from modules.core.hashing import calculate_sha256

if TYPE_CHECKING:
    import torch

Hasher = Callable[[str, str], "str | None"]
"""``(filename, cache title) -> sha256 hex`` (or ``None`` when hashing is off)."""

HASH_TITLE_PREFIX = "textual_inversion/"


def plain_sha256(filename: str, title: str) -> str | None:
    """The default hasher: the file's sha256, uncached."""
    return calculate_sha256(filename)


class Embedding:
    """One embedding: its vectors and what A1111 reports about it.

    ``vec`` is a float32 tensor ``[vectors, width]`` or, for SDXL, a dict
    ``{"clip_l": ..., "clip_g": ...}``; ``shape`` is the width (768 + 1280 for
    SDXL) and ``vectors`` how many tokens it stands for.  ``hash`` (sha256 of
    the file) and ``shorthash`` (its first 12 hex digits) are computed on first
    use.
    """

    def __init__(self, vec: Any, name: str, step: int | None = None) -> None:
        self.vec = vec
        self.name = name
        self.step = step
        self.shape: int | None = None
        self.vectors = 0
        self.sd_checkpoint: str | None = None
        self.sd_checkpoint_name: str | None = None
        self.optimizer_state_dict: Any = None
        self.filename: str | None = None
        self.hasher: Hasher | None = None
        self._hash: str | None = None

    @property
    def hash(self) -> str | None:
        """The file's sha256 ('' when hashing is off, ``None`` when there is no file)."""
        if self._hash is None and self.filename:
            hasher = self.hasher or plain_sha256
            self._hash = hasher(self.filename, HASH_TITLE_PREFIX + self.name) or ""
        return self._hash

    @hash.setter
    def hash(self, value: str | None) -> None:
        self._hash = value

    @property
    def shorthash(self) -> str | None:
        """The first 12 hex digits of :attr:`hash` (as in the ``TI hashes`` infotext)."""
        value = self.hash
        return value[0:12] if value is not None else None

    def set_hash(self, v: str) -> None:
        """Set the hash (A1111 name)."""
        self._hash = v

    def __repr__(self) -> str:
        return f"Embedding(name={self.name!r}, vectors={self.vectors}, shape={self.shape})"


def _as_float(t: "torch.Tensor") -> "torch.Tensor":
    import torch

    return t.detach().to(dtype=torch.float32)


def _vectors_of(t: Any, filename: str) -> "torch.Tensor":
    import torch

    if not isinstance(t, torch.Tensor) or t.ndim not in (1, 2) or t.numel() == 0:
        raise ValueError(f"{filename}: the embedding tensor must have 1 or 2 dimensions")
    return _as_float(t.unsqueeze(0) if t.ndim == 1 else t)


def create_embedding_from_data(data: Any, name: str, filename: str = "unknown embedding file",
                               filepath: str | None = None, hasher: Hasher | None = None) -> Embedding:
    """An :class:`Embedding` from a file's data (see the module docstring for the layouts).

    Raises ``ValueError`` for data that is none of them.
    """
    import torch

    if not isinstance(data, dict):
        raise ValueError(f"Couldn't identify {filename} as neither textual inversion embedding nor diffuser concept.")
    if "string_to_param" in data:
        params = data["string_to_param"]
        # Files saved by old torch versions hold a ParameterDict; its tensors live in _parameters.
        params = getattr(params, "_parameters", params)
        if len(params) != 1:
            raise ValueError(f"{filename}: embedding file has multiple terms in it")
        vec = _vectors_of(next(iter(params.values())), filename)
        shape, vectors = vec.shape[-1], vec.shape[0]
    elif "clip_g" in data and "clip_l" in data:
        vec = {k: _as_float(v) for k, v in data.items() if isinstance(v, torch.Tensor)}
        shape = data["clip_g"].shape[-1] + data["clip_l"].shape[-1]
        vectors = data["clip_g"].shape[0]
    elif data and isinstance(next(iter(data.values())), torch.Tensor):
        if len(data) != 1:
            raise ValueError(f"{filename}: embedding file has multiple terms in it")
        vec = _vectors_of(next(iter(data.values())), filename)
        shape, vectors = vec.shape[-1], vec.shape[0]
    else:
        raise ValueError(f"Couldn't identify {filename} as neither textual inversion embedding nor diffuser concept.")

    embedding = Embedding(vec, name)
    embedding.step = data.get("step")
    embedding.sd_checkpoint = data.get("sd_checkpoint")
    embedding.sd_checkpoint_name = data.get("sd_checkpoint_name")
    embedding.vectors = int(vectors)
    embedding.shape = int(shape)
    embedding.filename = filepath
    embedding.hasher = hasher
    return embedding
