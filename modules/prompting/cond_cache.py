"""Skip re-encoding prompts when nothing that affects the conds changed (A1111's ``cached_params``).

A cache is a two-slot ``[params, value]`` pair, as A1111 keeps it on the
processing object (``p.cached_c``, ``p.cached_uc``; extensions reset them with
``[None, None]``), so plain lists work as well as :class:`CondCache`.
"""
from __future__ import annotations

from typing import Any, Callable, MutableSequence, Sequence, TypeVar

T = TypeVar("T")


class CondCache(list):
    """``[params, value]``: the key the value was computed for, and the value."""

    def __init__(self) -> None:
        super().__init__([None, None])

    def reset(self) -> None:
        """Forget the params and the value."""
        self[0] = None
        self[1] = None


def cond_cache_params(required_prompts: Sequence[str], steps: int, hires_steps: int | None, use_old_scheduling: bool,
                      *, clip_skip: int, checkpoint: Any, extra_network_data: Any, sdxl_crop_left: int = 0,
                      sdxl_crop_top: int = 0, width: int | None = None, height: int | None = None,
                      fp8_storage: Any = None, cache_fp16_weight: bool = False, emphasis: str = "Original") -> tuple:
    """Everything that invalidates cached conds, in A1111's order.

    ``checkpoint`` is the loaded checkpoint's info object; ``extra_network_data``
    the parsed ``<lora:...>`` tags (LoRA weights change the text encoder).
    """
    return (list(required_prompts), steps, hires_steps, use_old_scheduling, clip_skip, checkpoint, extra_network_data,
            sdxl_crop_left, sdxl_crop_top, width, height, fp8_storage, cache_fp16_weight, emphasis)


def conds_with_caching(compute: Callable[[], T], params: Any, caches: Sequence[MutableSequence[Any]]) -> T:
    """The value of any cache whose params equal ``params``, else ``compute()`` stored in ``caches[0]``.

    Several caches let the hires pass reuse the first pass's conds when its
    prompts and steps are the same.
    """
    for cache in caches:
        if cache[0] is not None and cache[0] == params:
            return cache[1]
    value = compute()
    caches[0][1] = value
    caches[0][0] = params
    return value
