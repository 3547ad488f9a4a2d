"""Names of the files the Train tab creates (embeddings, hypernetworks): A1111's rule, and the error it raises."""
from __future__ import annotations


class CreationError(ValueError):
    """A file that cannot be created (no name, already there, no model); the message says why."""


def sanitize_name(name: str) -> str:
    """Keep letters, digits and ``._- `` (A1111's rule): the name is a file name, never a path."""
    cleaned = "".join(x for x in (name or "") if x.isalnum() or x in "._- ").strip()
    if not cleaned or cleaned in (".", ".."):
        raise CreationError("Name cannot be empty!")
    return cleaned
