"""What a sampler needs from the running application, passed in instead of read from globals.

The sampler factory (:class:`modules.sampling.factory.SamplerFactory`) builds one :class:`SamplingEnv` per
sampler: the settings object, the job state that carries interrupt/skip and the step counters, the
``script_callbacks`` lists for the CFG hooks, the live-preview sink and the prompting layer's cond schedulers.
Every field has a working default, so tests and scripts can sample with ``SamplingEnv()``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from modules.sampling.cfg_params import AfterCFGCallbackParams, CFGDenoisedParams, CFGDenoiserParams, ExtraNoiseParams


class InterruptedException(BaseException):
    """Raised inside a sampler to stop it (interrupt, skip, ``stop_at``); the sampler object catches it and returns
    the last latent. A ``BaseException`` so that a broad ``except Exception`` in a callback does not swallow it."""


@dataclasses.dataclass
class JobState:
    """The part of A1111's ``shared.state`` a sampler reads and writes."""

    interrupted: bool = False
    skipped: bool = False
    sampling_step: int = 0
    sampling_steps: int = 0
    current_latent: Any = None


def _cond_schedule_default(cond: Any, step: int) -> tuple[list[list[tuple[int, float]]], Any]:
    """Conds already fixed for the whole run: a ``(conds_list, tensor)`` pair as the prompting layer's
    ``reconstruct_multicond_batch`` returns, or one cond per image (tensor or SDXL dict) with weight 1."""
    if isinstance(cond, tuple) and len(cond) == 2 and isinstance(cond[0], list):
        return cond
    first = cond["crossattn"] if isinstance(cond, dict) else cond
    return [[(i, 1.0)] for i in range(first.shape[0])], cond


def _uncond_schedule_default(uncond: Any, step: int) -> Any:
    return uncond


def _is_plain_cond(cond: Any) -> bool:
    """A cond given directly (tensor, SDXL dict, or a resolved ``(conds_list, tensor)`` pair), not a schedule."""
    import torch

    if isinstance(cond, (dict, torch.Tensor)):
        return True
    return isinstance(cond, tuple) and len(cond) == 2 and isinstance(cond[0], list)


def scheduled_conds(multicond_fn: Callable[[Any, int], tuple[list, Any]],
                    cond_fn: Callable[[Any, int], Any]) -> tuple[Callable[[Any, int], tuple[list, Any]],
                                                                 Callable[[Any, int], Any]]:
    """The prompting layer's ``reconstruct_multicond_batch`` / ``reconstruct_cond_batch``, letting plain conds
    through unchanged (scripts and tests pass tensors)."""

    def multicond(cond: Any, step: int) -> tuple[list, Any]:
        return _cond_schedule_default(cond, step) if _is_plain_cond(cond) else multicond_fn(cond, step)

    def single(cond: Any, step: int) -> Any:
        return cond if _is_plain_cond(cond) else cond_fn(cond, step)

    return multicond, single


@dataclasses.dataclass
class SamplingEnv:
    """Services and settings injected into sampler objects and the CFG denoiser."""

    opts: Any = None
    """Settings with attribute access (``shared.opts``); missing keys fall back to A1111's defaults."""

    state: Any = dataclasses.field(default_factory=JobState)
    """``interrupted``, ``skipped``, ``sampling_step``, ``sampling_steps`` (A1111's ``shared.state``)."""

    cfg_denoiser_callbacks: list[Callable[[CFGDenoiserParams], None]] = dataclasses.field(default_factory=list)
    cfg_denoised_callbacks: list[Callable[[CFGDenoisedParams], None]] = dataclasses.field(default_factory=list)
    cfg_after_cfg_callbacks: list[Callable[[AfterCFGCallbackParams], None]] = dataclasses.field(default_factory=list)
    extra_noise_callbacks: list[Callable[[ExtraNoiseParams], None]] = dataclasses.field(default_factory=list)

    reconstruct_multicond_batch: Callable[[Any, int], tuple[list, Any]] = _cond_schedule_default
    """``(cond, step) -> (conds_list, tensor)``: the prompting layer's function for scheduled AND prompts."""

    reconstruct_cond_batch: Callable[[Any, int], Any] = _uncond_schedule_default
    """``(uncond, step) -> tensor``: the negative prompt's cond at a step."""

    store_latent: Callable[[Any], None] | None = None
    """Receives the live-preview latent after every denoiser call."""

    on_step: Callable[[], None] | None = None
    """Called once per sampler step (A1111's ``total_tqdm.update``)."""

    randn_local: Callable[[int, tuple], Any] | None = None
    """``(seed, shape) -> Tensor`` for the Brownian tree of SDE samplers (A1111's ``devices.randn_local``)."""

    refiner_switch: Callable[[Any, Any], bool] | None = None
    """``(cfg_denoiser, sigma) -> bool``: switches to the refiner when due; True when it did (then it has called
    ``cfg_denoiser.update_inner_model``)."""

    nan_check: Callable[[Any, str], None] | None = None
    """``(tensor, where)``: raises when the UNet produced NaNs (A1111's ``devices.test_for_nans``)."""

    def emit(self, callbacks: list[Callable[[Any], None]], params: Any) -> None:
        """Call each callback with ``params``; isolating failures is the caller's (scripts layer's) job."""
        for callback in callbacks:
            callback(params)
