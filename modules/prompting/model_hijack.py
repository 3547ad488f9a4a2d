"""A1111's ``model_hijack``: the text-conditioning state processing, the UI and extensions read.

In A1111 this object rewired the loaded model's text encoders.  Here it only
attaches strategy objects (:func:`modules.prompting.model_conditioning.attach_text_conditioning`)
and keeps what A1111 code reads from it:

- ``embedding_db``: the textual-inversion :class:`EmbeddingDatabase`;
- ``extra_generation_params``: ``TI hashes`` / ``Emphasis`` written while encoding outside a
  job (an extension calling ``model.get_learned_conditioning`` itself); a job's encodings
  return their notes with the conds instead (:mod:`modules.prompting.notes`) and
  processing puts them into the job's infotext;
- ``comments``; ``clear_comments()`` empties both;
- ``get_prompt_lengths(text)``: the UI's token counter;
- ``hijack(m)`` / ``undo_hijack(m)``: attach to / detach from a model; ``clip``
  the attached encoder (SD1/SD2) or the whole conditioning (SDXL).

The bootstrap sets ``embedding_db`` and attaches each model that becomes live;
``modules.sd_hijack`` re-exports this module for extensions.  Nothing is read or
built at import beyond the empty object.
"""
from __future__ import annotations

from typing import Any, Callable

from modules.core.services import current_services
from modules.prompting.model_conditioning import attach_text_conditioning, detach_text_conditioning
from modules.prompting.textual_inversion.database import EmbeddingDatabase


def _live_opts() -> Any:
    return current_services().opts


class StableDiffusionModelHijack:
    """The text-conditioning state shared by the web UI (one instance: :data:`model_hijack`)."""

    fixes = None
    layers = None
    circular_enabled = False
    clip: Any = None
    optimization_method: str | None = None

    def __init__(self, embedding_db: EmbeddingDatabase | None = None,
                 settings: Callable[[], Any] | None = None) -> None:
        self.extra_generation_params: dict[str, Any] = {}
        self.comments: list[str] = []
        self.embedding_db = embedding_db if embedding_db is not None else EmbeddingDatabase()
        self.settings = settings or _live_opts

    def hijack(self, m: Any) -> None:
        """Attach A1111's prompt path to ``m``; call it whenever a model becomes the live one."""
        conditioning = attach_text_conditioning(m, self.settings, self.embedding_db, record=self)
        self.clip = conditioning.primary if len(conditioning.encoders) == 1 else conditioning

    def undo_hijack(self, m: Any) -> None:
        """Back to the model's plain text encoding."""
        detach_text_conditioning(m)
        self.clip = None

    def clear_comments(self) -> None:
        self.comments = []
        self.extra_generation_params = {}

    def get_prompt_lengths(self, text: str) -> tuple[Any, Any]:
        """``(token_count, limit)`` of a prompt, or ``("-", "-")`` when no model is attached."""
        if self.clip is None:
            return "-", "-"
        _, token_count = self.clip.process_texts([text])
        return token_count, self.clip.get_target_prompt_token_count(token_count)


model_hijack = StableDiffusionModelHijack()
