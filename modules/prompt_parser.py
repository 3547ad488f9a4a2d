"""A1111's ``modules.prompt_parser``: the prompt-syntax names extensions import.

A thin re-export of :mod:`modules.prompting`; ``schedule_parser`` is the
prompt-editing parser object (``.parse(prompt)`` returns a lark-shaped tree;
A1111's is a lark parser, ours reads the same grammar in linear time).
"""
from __future__ import annotations

from typing import Any

from modules.prompting.attention import parse_prompt_attention, re_attention, re_break  # noqa: F401
from modules.prompting.composable import get_multicond_prompt_list, re_AND, re_weight  # noqa: F401
from modules.prompting.conditioning import (  # noqa: F401
    ComposableScheduledPromptConditioning,
    DictWithShape,
    MulticondLearnedConditioning,
    ScheduledPromptConditioning,
    SdConditioning,
    get_learned_conditioning,
    get_multicond_learned_conditioning,
    reconstruct_cond_batch,
    reconstruct_multicond_batch,
    stack_conds,
)
from modules.prompting.scheduling import get_learned_conditioning_prompt_schedules  # noqa: F401


def __getattr__(name: str) -> Any:
    if name == "schedule_parser":
        from modules.prompting.scheduling import get_schedule_parser

        return get_schedule_parser()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
