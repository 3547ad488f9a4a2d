"""The embeddings found in the embeddings folders, and their lookup by token ids.

The database lists ``embeddings/`` (``--embeddings-dir``) and any folder added
with :meth:`EmbeddingDatabase.add_embedding_dir`, recursively and following
symlinks.  It is re-read when a folder changed (checked before each
generation) or when forced (after a model load, ``/sdapi/v1/refresh-embeddings``).

Embeddings whose width differs from the loaded model's (768 SD1, 1024 SD2,
2048 = 768 + 1280 SDXL) are kept apart as ``skipped_embeddings``.  The others
are found in prompts by their name's token ids, longest name first.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, Iterator, Sequence

from modules.models.textual_inversion_embedding import Embedding, Hasher, create_embedding_from_data
from modules.prompting.textual_inversion.file_loading import IMAGE_EXTENSIONS, is_candidate, read_embedding_data

log = logging.getLogger(__name__)

Tokenize = Callable[[list[str]], list[list[int]]]
"""Texts -> token ids without start/end tokens (the model's prompt tokenizer)."""


def expected_shape_for(widths: int | Sequence[int]) -> int:
    """The embedding width a model accepts: its text encoder width, summed over encoders (SDXL: 768 + 1280)."""
    return widths if isinstance(widths, int) else sum(widths)


def _walk_dirs(root: str) -> Iterator[tuple[str, list[str]]]:
    """``(folder, sorted file names)`` under ``root``, following symlinks but never a folder twice."""
    seen: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        yield folder, sorted(files)


class DirWithTextualInversionEmbeddings:
    """One embeddings folder and the modification time it had when last read.

    A change anywhere in the tree (a file added to a subfolder too) counts,
    since every folder's mtime is looked at.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.mtime: float | None = None

    def _tree_mtime(self) -> float:
        newest = 0.0
        for folder, _ in _walk_dirs(self.path):
            try:
                newest = max(newest, os.path.getmtime(folder))
            except OSError:  # removed while we looked
                continue
        return newest

    def has_changed(self) -> bool:
        if not os.path.isdir(self.path):
            return False
        return self.mtime is None or self._tree_mtime() != self.mtime

    def update(self) -> None:
        if os.path.isdir(self.path):
            self.mtime = self._tree_mtime()


class EmbeddingDatabase:
    """Textual-inversion embeddings by name (A1111's ``model_hijack.embedding_db``).

    ``tokenizer`` turns names into token ids (without it, nothing can be found
    in prompts but the lists still work); ``expected_shape`` is the loaded
    model's width, -1 to accept every width.  Set both with :meth:`set_model`
    when a model loads.  ``hasher`` computes file hashes (default: plain sha256).
    """

    def __init__(self, tokenizer: Tokenize | None = None, expected_shape: int = -1, hasher: Hasher | None = None) -> None:
        self.ids_lookup: dict[int, list[tuple[list[int], Embedding]]] = {}
        self.word_embeddings: dict[str, Embedding] = {}
        self.skipped_embeddings: dict[str, Embedding] = {}
        self.expected_shape = expected_shape
        self.embedding_dirs: dict[str, DirWithTextualInversionEmbeddings] = {}
        self.previously_displayed_embeddings: tuple = ()
        self.load_errors: dict[str, str] = {}
        """Files that failed to load in the last scan, with the reason."""
        self.tokenizer = tokenizer
        self.hasher = hasher
        self._lock = threading.RLock()
        self._force_next = False

    def add_embedding_dir(self, path: str) -> None:
        self.embedding_dirs[path] = DirWithTextualInversionEmbeddings(path)

    def clear_embedding_dirs(self) -> None:
        self.embedding_dirs.clear()

    def set_model(self, tokenizer: Tokenize | None, expected_shape: int | Sequence[int]) -> None:
        """A model was loaded: its tokenizer and width; the next load re-reads everything."""
        self.tokenizer = tokenizer
        self.expected_shape = expected_shape_for(expected_shape)
        self._force_next = True

    def get_expected_shape(self) -> int:
        return self.expected_shape

    def _tokenize_name(self, name: str, model: Any = None) -> list[int]:
        tokenizer = self.tokenizer
        if tokenizer is None and model is not None:
            tokenizer = getattr(getattr(model, "cond_stage_model", None), "tokenize", None)
        if tokenizer is None:
            return []
        return list(tokenizer([name])[0])

    def register_embedding(self, embedding: Embedding, model: Any = None) -> Embedding | None:
        """Make ``embedding`` usable in prompts under its own name (``model`` only for A1111 callers)."""
        return self.register_embedding_by_name(embedding, model, embedding.name)

    def register_embedding_by_name(self, embedding: Embedding | None, model: Any, name: str) -> Embedding | None:
        """Register ``embedding`` under ``name``, replacing an earlier one; ``None`` unregisters ``name``.

        The LoRA extension uses this for embeddings bundled in LoRA files.
        """
        with self._lock:
            ids = self._tokenize_name(name, model)
            first_id = ids[0] if ids else None
            lookup = [x for x in self.ids_lookup.get(first_id, []) if x[1].name != name] if first_id is not None else []
            if embedding is not None and ids:
                lookup.append((ids, embedding))
            if first_id is not None:
                if lookup:
                    self.ids_lookup[first_id] = sorted(lookup, key=lambda x: len(x[0]), reverse=True)
                else:
                    self.ids_lookup.pop(first_id, None)
            if embedding is None:
                self.word_embeddings.pop(name, None)
                return None
            self.word_embeddings[name] = embedding
            return embedding

    def load_from_file(self, path: str, filename: str) -> Embedding | None:
        """Read one file; the embedding is registered, or listed as skipped when its width does not fit.

        Returns ``None`` for files that are not embeddings; raises for broken
        or refused ones.
        """
        data = read_embedding_data(path)
        if data is None:
            return None
        name = os.path.splitext(filename)[0]
        if os.path.splitext(filename)[1].upper() in IMAGE_EXTENSIONS and isinstance(data, dict):
            # Images carry the name they were trained under; other files are named by their stem.
            name = data.get("name", name) or name
        embedding = create_embedding_from_data(data, name, filename=filename, filepath=path, hasher=self.hasher)
        if self.expected_shape == -1 or self.expected_shape == embedding.shape:
            self.register_embedding(embedding)
        else:
            self.skipped_embeddings[name] = embedding
        return embedding

    def load_from_dir(self, embdir: DirWithTextualInversionEmbeddings) -> None:
        """Every embedding under one folder; a broken file is logged and skipped."""
        if not os.path.isdir(embdir.path):
            return
        for folder, files in _walk_dirs(embdir.path):
            for fn in files:
                full = os.path.join(folder, fn)
                try:
                    if not is_candidate(fn) or os.stat(full).st_size == 0:
                        continue
                    self.load_from_file(full, fn)
                except Exception as e:  # noqa: BLE001 - one bad file must not stop the scan
                    self.load_errors[full] = str(e)
                    log.error("Error loading embedding %s: %s", fn, e)

    def needs_reload(self) -> bool:
        return self._force_next or any(d.has_changed() for d in self.embedding_dirs.values())

    def load_textual_inversion_embeddings(self, force_reload: bool = False, print_at_load: bool = False) -> None:
        """Re-read the folders if forced, after :meth:`set_model`, or when a folder changed.

        ``print_at_load`` (setting ``textual_inversion_print_at_load``) prints
        the loaded and skipped names when they differ from the last print.
        """
        with self._lock:
            if not force_reload and not self.needs_reload():
                return
            self._force_next = False
            self.ids_lookup.clear()
            self.word_embeddings.clear()
            self.skipped_embeddings.clear()
            self.load_errors.clear()
            for embdir in self.embedding_dirs.values():
                self.load_from_dir(embdir)
                embdir.update()
            # Same dict object (others hold references to it), sorted by name.
            ordered = sorted(self.word_embeddings.values(), key=lambda e: e.name.lower())
            self.word_embeddings.clear()
            self.word_embeddings.update((e.name, e) for e in ordered)

            displayed = (tuple(self.word_embeddings), tuple(self.skipped_embeddings))
            if print_at_load and self.previously_displayed_embeddings != displayed:
                self.previously_displayed_embeddings = displayed
                print(f"Textual inversion embeddings loaded({len(self.word_embeddings)}): "
                      f"{', '.join(self.word_embeddings)}")
                if self.skipped_embeddings:
                    print(f"Textual inversion embeddings skipped({len(self.skipped_embeddings)}): "
                          f"{', '.join(self.skipped_embeddings)}")

    def find_embedding_at_position(self, tokens: Sequence[int], offset: int) -> tuple[Embedding | None, int | None]:
        """``(embedding, name length in tokens)`` for the longest name starting at ``tokens[offset]``, else ``(None, None)``."""
        for ids, embedding in self.ids_lookup.get(tokens[offset], ()):
            if list(tokens[offset:offset + len(ids)]) == ids:
                return embedding, len(ids)
        return None, None

    def api_answer(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The ``/sdapi/v1/embeddings`` answer: ``{"loaded": {name: info}, "skipped": {name: info}}``."""

        def info(e: Embedding) -> dict[str, Any]:
            return {"step": e.step, "sd_checkpoint": e.sd_checkpoint, "sd_checkpoint_name": e.sd_checkpoint_name,
                    "shape": e.shape, "vectors": e.vectors}

        return {"loaded": {e.name: info(e) for e in self.word_embeddings.values()},
                "skipped": {e.name: info(e) for e in self.skipped_embeddings.values()}}
