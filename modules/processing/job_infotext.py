"""A job's infotext with the running app's settings (A1111's ``processing.create_infotext``)."""
from __future__ import annotations

from typing import Any

from modules.core.services import current_services
from modules.processing import infotext_params

VERSION = "v1.10.1"
"""The A1111 version whose behaviour this web UI reproduces (written as ``Version`` in infotexts)."""


def create_infotext(p: Any, all_prompts: list, all_seeds: list, all_subseeds: list, comments: Any = None,
                    iteration: int = 0, position_in_batch: int = 0, use_main_prompt: bool = False,
                    index: int | None = None, all_negative_prompts: list | None = None) -> str:
    """A1111's ``processing.create_infotext`` with the settings of ``p``'s services."""
    services = getattr(p, "services", None) or current_services()
    sampler = getattr(p, "sampler", None)
    uses_ensd = getattr(sampler, "uses_ensd", None) if sampler is not None else None
    return infotext_params.create_infotext(
        p, all_prompts, all_seeds, all_subseeds, comments, iteration, position_in_batch, use_main_prompt, index,
        all_negative_prompts, settings=services.opts, version=VERSION, uses_ensd=uses_ensd,
        fp8=bool(getattr(getattr(p, "sd_model", None) or services.sd_model, "fp8", False)))  # A1111's devices.fp8
