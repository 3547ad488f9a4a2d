"""What encoding prompts adds to a job's infotext, returned with the conds.

Encoders note ``TI hashes`` and ``Emphasis`` (and, on the pre-1.0 path, truncation
warnings and ``Used embeddings`` comments) while they run.  :func:`encode_with_notes`
runs one encoding and returns its conds together with the notes it made
(:class:`PromptEncoding`); the pipeline folds them into the job with
:meth:`PromptNotes.add`.  Encoders write to the notes of the encoding running in
their context (:func:`notes_sink`); outside any (an extension calling
``model.get_learned_conditioning`` itself, a test) they write to the record they
were given, A1111's ``modules.sd_hijack.model_hijack``.
"""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol


class InfotextRecord(Protocol):
    """Where encoders leave infotext fields: A1111's ``model_hijack`` has both attributes."""

    extra_generation_params: dict[str, Any]
    comments: list[str]


@dataclass
class PromptNotes:
    """Infotext fields and comments from encoding prompts (an :class:`InfotextRecord`)."""

    extra_generation_params: dict[str, Any] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)

    def add(self, later: "PromptNotes") -> None:
        """Fold in the notes of a later encoding, as A1111's one ``model_hijack`` record gathered them
        over a job: a later ``TI hashes`` value comes first, followed by the earlier one."""
        for key, value in later.extra_generation_params.items():
            earlier = self.extra_generation_params.get(key)
            if key == "TI hashes" and earlier:
                value = f"{value}, {earlier}"
            self.extra_generation_params[key] = value
        self.comments += later.comments

    def clear(self) -> None:
        self.extra_generation_params = {}
        self.comments = []


@dataclass
class PromptEncoding:
    """The result of :func:`encode_with_notes`: the conds and what encoding them noted."""

    conds: Any
    notes: PromptNotes


_running: ContextVar[PromptNotes | None] = ContextVar("prompt_notes", default=None)


def notes_sink(fallback: InfotextRecord) -> InfotextRecord:
    """Where an encoder writes its notes now: the notes of the :func:`encode_with_notes` call running in this
    context, else ``fallback``."""
    notes = _running.get()
    return notes if notes is not None else fallback


def encode_with_notes(encode: Callable[[], Any]) -> PromptEncoding:
    """Run ``encode()`` (e.g. ``get_learned_conditioning(model, prompts, steps)``) and return its conds with the
    notes every encoder made meanwhile."""
    notes = PromptNotes()
    token = _running.set(notes)
    try:
        conds = encode()
    finally:
        _running.reset(token)
    return PromptEncoding(conds, notes)
