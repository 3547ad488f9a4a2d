"""Encoded prompt schedules, and picking the conditioning for a sampling step.

The encoder is injected: anything with a ``get_learned_conditioning(texts)``
method (the model) or a plain callable taking the list of texts.  It returns a
tensor ``[len(texts), tokens, width]`` or, for SDXL, a dict of such tensors
(``crossattn``, ``vector``).  These names and shapes are A1111's, used by
extensions through ``modules.prompt_parser``.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence

from modules.prompting.composable import get_multicond_prompt_list
from modules.prompting.limits import check_prompt_limits
from modules.prompting.scheduling import get_learned_conditioning_prompt_schedules
from modules.prompting.sd_conditioning import SdConditioning

if TYPE_CHECKING:
    import torch


class ScheduledPromptConditioning(NamedTuple):
    """One entry of a cond schedule: ``cond`` is used up to and including step ``end_at_step``."""

    end_at_step: int
    cond: Any


class ComposableScheduledPromptConditioning:
    """The cond schedule of one ``AND`` sub-prompt and its weight."""

    def __init__(self, schedules: list[ScheduledPromptConditioning], weight: float = 1.0) -> None:
        self.schedules = schedules
        self.weight = weight


class MulticondLearnedConditioning:
    """Per batch item, its list of :class:`ComposableScheduledPromptConditioning`.

    ``shape`` is ``(batch size,)``; samplers that expect a tensor read it.
    """

    def __init__(self, shape: tuple, batch: list[list[ComposableScheduledPromptConditioning]]) -> None:
        self.shape = shape
        self.batch = batch


class DictWithShape(dict):
    """A dict of cond tensors (SDXL) whose ``shape`` is that of its ``crossattn`` entry."""

    def __init__(self, x: dict, shape: Any = None) -> None:
        super().__init__()
        self.update(x)

    @property
    def shape(self) -> Any:
        return self["crossattn"].shape


def _encoder(model: Any) -> Callable[[SdConditioning], Any]:
    method = getattr(model, "get_learned_conditioning", None)
    if method is not None:
        return method
    if callable(model):
        return model
    raise TypeError("expected a model with get_learned_conditioning(texts) or a callable taking texts")


def _patchable(name: str, default: Callable) -> Callable:
    """``modules.prompt_parser.<name>`` when that module is loaded, else ``default``.

    Extensions replace functions on ``modules.prompt_parser`` (A1111's module
    calls them through its own globals); looking them up at call time keeps
    those replacements working.
    """
    compat = sys.modules.get("modules.prompt_parser")
    return getattr(compat, name, default) if compat is not None else default


def learned_conditioning_functions() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``(get_learned_conditioning, get_multicond_learned_conditioning)``: A1111's functions, or the replacements
    extensions set on ``modules.prompt_parser`` (what processing calls to encode a job's prompts)."""
    return (_patchable("get_learned_conditioning", get_learned_conditioning),
            _patchable("get_multicond_learned_conditioning", get_multicond_learned_conditioning))


def _check_limits(prompts: Sequence[str]) -> None:
    """:func:`~modules.prompting.limits.check_prompt_limits` on each prompt (``negative_prompt`` for a negative batch).

    Done here as well as in the scheduling parse because extensions may replace
    the schedule function (see :func:`_patchable`).
    """
    key = "negative_prompt" if getattr(prompts, "is_negative_prompt", False) else "prompt"
    for prompt in prompts:
        check_prompt_limits(prompt, key)


def get_learned_conditioning(model: Any, prompts: Sequence[str], steps: int, hires_steps: int | None = None,
                             use_old_scheduling: bool = False) -> list[list[ScheduledPromptConditioning]]:
    """For each prompt, its cond schedule ``[ScheduledPromptConditioning(end_at_step, cond), ...]``.

    The scheduled texts of one prompt are encoded in one call; a prompt that
    appears twice in ``prompts`` is encoded once.  Every prompt is checked
    against :mod:`~modules.prompting.limits` before anything is parsed or encoded.
    """
    _check_limits(prompts)
    schedule_fn = _patchable("get_learned_conditioning_prompt_schedules", get_learned_conditioning_prompt_schedules)
    schedules = schedule_fn(prompts, steps, hires_steps, use_old_scheduling)
    encode = _encoder(model)
    done: dict[str, list[ScheduledPromptConditioning]] = {}
    result = []
    for prompt, schedule in zip(prompts, schedules):
        if prompt in done:
            result.append(done[prompt])
            continue
        conds = encode(SdConditioning([text for _, text in schedule], copy_from=prompts))
        cond_schedule = []
        for i, (end_at_step, _) in enumerate(schedule):
            cond = {k: v[i] for k, v in conds.items()} if isinstance(conds, dict) else conds[i]
            cond_schedule.append(ScheduledPromptConditioning(end_at_step, cond))
        done[prompt] = cond_schedule
        result.append(cond_schedule)
    return result


def get_multicond_learned_conditioning(model: Any, prompts: Sequence[str], steps: int, hires_steps: int | None = None,
                                       use_old_scheduling: bool = False) -> MulticondLearnedConditioning:
    """Like :func:`get_learned_conditioning`, with each prompt split on ``AND`` into weighted sub-prompts."""
    _check_limits(prompts)
    indexes, flat, _ = _patchable("get_multicond_prompt_list", get_multicond_prompt_list)(prompts)
    learned = _patchable("get_learned_conditioning", get_learned_conditioning)(model, flat, steps, hires_steps,
                                                                             use_old_scheduling)
    batch = [[ComposableScheduledPromptConditioning(learned[i], weight) for i, weight in item] for item in indexes]
    return MulticondLearnedConditioning(shape=(len(prompts),), batch=batch)


def _index_for_step(schedule: Sequence[ScheduledPromptConditioning], current_step: int) -> int:
    # Past the last end step (a sampler running longer than planned) the first entry
    # is used, as in A1111.
    for i, entry in enumerate(schedule):
        if current_step <= entry.end_at_step:
            return i
    return 0


def reconstruct_cond_batch(c: list[list[ScheduledPromptConditioning]], current_step: int) -> Any:
    """The conds of every batch item at ``current_step``, stacked: ``[batch, tokens, width]`` (or a dict of them).

    All schedules must hold conds of the same shape (negative prompts are
    padded beforehand when needed).
    """
    import torch

    first = c[0][0].cond
    if isinstance(first, dict):
        res: Any = DictWithShape({k: torch.zeros((len(c),) + v.shape, device=v.device, dtype=v.dtype)
                                  for k, v in first.items()})
    else:
        res = torch.zeros((len(c),) + first.shape, device=first.device, dtype=first.dtype)
    for i, schedule in enumerate(c):
        cond = schedule[_index_for_step(schedule, current_step)].cond
        if isinstance(cond, dict):
            for k, v in cond.items():
                res[k][i] = v
        else:
            res[i] = cond
    return res


def stack_conds(tensors: list["torch.Tensor"]) -> "torch.Tensor":
    """Stack ``[tokens, width]`` conds of different token counts by repeating each one's last vector.

    Prompts longer than 75 tokens give longer conds; the shorter ones are padded
    with copies of their final vector so the batch is rectangular.
    """
    import torch

    token_count = max(x.shape[0] for x in tensors)
    padded = []
    for x in tensors:
        missing = token_count - x.shape[0]
        padded.append(torch.vstack([x, x[-1:].repeat([missing, 1])]) if missing else x)
    return torch.stack(padded)


def reconstruct_multicond_batch(c: MulticondLearnedConditioning, current_step: int) -> tuple[list[list[tuple[int, float]]], Any]:
    """``(conds_list, tensor)`` at ``current_step``.

    ``tensor`` stacks every sub-prompt's cond of every batch item (padded with
    :func:`stack_conds`); ``conds_list[i]`` lists ``(row in tensor, weight)``
    for batch item ``i``, which CFG uses to combine them.
    """
    first = c.batch[0][0].schedules[0].cond
    tensors = []
    conds_list = []
    for composable_prompts in c.batch:
        item = []
        for composable in composable_prompts:
            schedule = composable.schedules
            item.append((len(tensors), composable.weight))
            tensors.append(schedule[_index_for_step(schedule, current_step)].cond)
        conds_list.append(item)

    if isinstance(tensors[0], dict):
        stacked = DictWithShape({k: stack_conds([x[k] for x in tensors]) for k in tensors[0]})
    else:
        stacked = stack_conds(tensors).to(device=first.device, dtype=first.dtype)
    return conds_list, stacked


def cond_schedule_functions() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``(reconstruct_multicond_batch, reconstruct_cond_batch)``: A1111's functions, or the replacements extensions
    set on ``modules.prompt_parser`` (what a sampler calls to pick each step's conds)."""
    return (_patchable("reconstruct_multicond_batch", reconstruct_multicond_batch),
            _patchable("reconstruct_cond_batch", reconstruct_cond_batch))
