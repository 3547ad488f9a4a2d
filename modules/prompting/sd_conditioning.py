"""``SdConditioning``: the list of prompts handed to a model's conditioner."""
from __future__ import annotations

from typing import Any, Sequence


class SdConditioning(list):
    """A list of prompts for the model's conditioner, carrying what SDXL also needs.

    ``is_negative_prompt``, ``width`` and ``height`` are taken from the
    arguments, else from ``copy_from`` (by default the given prompts, when they
    are an ``SdConditioning`` themselves).  SDXL uses the size for its
    conditioning vector and zeroes an all-empty negative prompt.
    """

    def __init__(self, prompts: Sequence[str], is_negative_prompt: bool = False, width: int | None = None,
                 height: int | None = None, copy_from: Any = None) -> None:
        super().__init__()
        self.extend(prompts)
        if copy_from is None:
            copy_from = prompts
        self.is_negative_prompt = is_negative_prompt or getattr(copy_from, "is_negative_prompt", False)
        self.width = width or getattr(copy_from, "width", None)
        self.height = height or getattr(copy_from, "height", None)
