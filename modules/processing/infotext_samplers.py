"""Sampler and schedule-type names as infotexts carry them.

Before 1.9 the schedule was part of the sampler's name (``DPM++ 2M Karras``);
since then it is its own field (``Schedule type``).  Pasting an old infotext
must split the name, and ``Automatic`` stands for a sampler's own default
schedule.  The tables below are A1111 1.10's built-in samplers and schedulers
(name, aliases, default schedule, whether extra noise uses ENSD); the sampling
layer can pass its own lists of objects with the same attributes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence


@dataclass(frozen=True)
class SamplerName:
    """What infotext code needs to know of a sampler."""

    name: str
    aliases: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SchedulerName:
    """What infotext code needs to know of a schedule type."""

    name: str
    label: str
    aliases: tuple[str, ...] = ()


def _s(name: str, aliases: tuple[str, ...], **options: Any) -> SamplerName:
    return SamplerName(name, aliases, options)


SAMPLERS: tuple[SamplerName, ...] = (
    _s("DPM++ 2M", ("k_dpmpp_2m",), scheduler="karras"),
    _s("DPM++ SDE", ("k_dpmpp_sde",), scheduler="karras", second_order=True, brownian_noise=True),
    _s("DPM++ 2M SDE", ("k_dpmpp_2m_sde",), scheduler="exponential", brownian_noise=True),
    _s("DPM++ 2M SDE Heun", ("k_dpmpp_2m_sde_heun",), scheduler="exponential", brownian_noise=True, solver_type="heun"),
    _s("DPM++ 2S a", ("k_dpmpp_2s_a",), scheduler="karras", uses_ensd=True, second_order=True),
    _s("DPM++ 3M SDE", ("k_dpmpp_3m_sde",), scheduler="exponential", discard_next_to_last_sigma=True,
       brownian_noise=True),
    _s("Euler a", ("k_euler_a", "k_euler_ancestral"), uses_ensd=True),
    _s("Euler", ("k_euler",)),
    _s("LMS", ("k_lms",)),
    _s("Heun", ("k_heun",), second_order=True),
    _s("DPM2", ("k_dpm_2",), scheduler="karras", discard_next_to_last_sigma=True, second_order=True),
    _s("DPM2 a", ("k_dpm_2_a",), scheduler="karras", discard_next_to_last_sigma=True, uses_ensd=True,
       second_order=True),
    _s("DPM fast", ("k_dpm_fast",), uses_ensd=True),
    _s("DPM adaptive", ("k_dpm_ad",), uses_ensd=True),
    _s("Restart", ("restart",), scheduler="karras", second_order=True),
    _s("DDIM", ("ddim",)),
    _s("DDIM CFG++", ("ddim_cfgpp",)),
    _s("PLMS", ("plms",)),
    _s("UniPC", ("unipc",)),
    _s("LCM", ("k_lcm",)),
)
"""A1111 1.10's samplers in UI order (the first is the default)."""

SCHEDULERS: tuple[SchedulerName, ...] = (
    SchedulerName("automatic", "Automatic"),
    SchedulerName("uniform", "Uniform"),
    SchedulerName("karras", "Karras"),
    SchedulerName("exponential", "Exponential"),
    SchedulerName("polyexponential", "Polyexponential"),
    SchedulerName("sgm_uniform", "SGM Uniform", ("SGMUniform",)),
    SchedulerName("kl_optimal", "KL Optimal"),
    SchedulerName("align_your_steps", "Align Your Steps"),
    SchedulerName("simple", "Simple"),
    SchedulerName("normal", "Normal"),
    SchedulerName("ddim", "DDIM"),
    SchedulerName("beta", "Beta"),
)
"""A1111 1.10's schedule types; the first, ``Automatic``, means "the sampler's own"."""

USE_SAME_SAMPLER = "Use same sampler"
USE_SAME_SCHEDULER = "Use same scheduler"


def find_sampler(name: str | None, samplers: Sequence[Any] = SAMPLERS) -> Any:
    """The sampler called ``name`` or having it as an alias (any case), or ``None``."""
    if not name:
        return None
    lowered = name.lower()
    for sampler in samplers:
        if sampler.name.lower() == lowered or lowered in (a.lower() for a in (sampler.aliases or ())):
            return sampler
    return None


def _options(sampler: Any) -> Mapping[str, Any]:
    return getattr(sampler, "options", None) or {}


def get_sampler_and_scheduler(sampler_name: str | None, scheduler_name: str | None, *, convert_automatic: bool = True,
                              samplers: Sequence[Any] = SAMPLERS,
                              schedulers: Sequence[Any] = SCHEDULERS) -> tuple[str, str]:
    """Split an infotext sampler name into ``(sampler, schedule type label)``, A1111's way.

    ``DPM++ 2M Karras`` gives ``("DPM++ 2M", "Automatic")`` because Karras is that
    sampler's default (with ``convert_automatic``); ``DPM++ 2M SDE Karras`` gives
    ``("DPM++ 2M SDE", "Karras")``.  An unknown sampler becomes the first one.
    """
    by_name = {**{s.name: s for s in schedulers}, **{s.label: s for s in schedulers}}
    found = by_name.get(scheduler_name, schedulers[0])
    name = sampler_name or samplers[0].name

    for scheduler in schedulers:
        for option in (scheduler.label, scheduler.name, *(scheduler.aliases or ())):
            if name.endswith(" " + option):
                found = scheduler
                name = name[:-(len(option) + 1)]
                break

    sampler = {s.name: s for s in samplers}.get(name, samplers[0])
    if convert_automatic and _options(sampler).get("scheduler") == found.name:
        found = schedulers[0]
    return sampler.name, found.label


def get_sampler_from_infotext(d: Mapping[str, Any]) -> str:
    """The sampler a pasted infotext asks for (the paste field of the Sampler dropdown)."""
    return get_sampler_and_scheduler(d.get("Sampler"), d.get("Schedule type"))[0]


def get_scheduler_from_infotext(d: Mapping[str, Any]) -> str:
    """The schedule type a pasted infotext asks for, old ``Sampler: X Karras`` names included."""
    return get_sampler_and_scheduler(d.get("Sampler"), d.get("Schedule type"))[1]


def get_hr_sampler_and_scheduler(d: Mapping[str, Any]) -> tuple[str, str]:
    """The hires pass's sampler and schedule, as ``Use same ...`` when they equal the first pass's."""
    hr_sampler = d.get("Hires sampler", USE_SAME_SAMPLER)
    sampler = d.get("Sampler") if hr_sampler == USE_SAME_SAMPLER else hr_sampler
    hr_scheduler = d.get("Hires schedule type", USE_SAME_SCHEDULER)
    scheduler = d.get("Schedule type") if hr_scheduler == USE_SAME_SCHEDULER else hr_scheduler

    sampler, scheduler = get_sampler_and_scheduler(sampler, scheduler)
    sampler = sampler if sampler != d.get("Sampler") else USE_SAME_SAMPLER
    scheduler = scheduler if scheduler != d.get("Schedule type") else USE_SAME_SCHEDULER
    return sampler, scheduler


def get_hr_sampler_from_infotext(d: Mapping[str, Any]) -> str:
    """The Hires sampler dropdown's value for a pasted infotext."""
    return get_hr_sampler_and_scheduler(d)[0]


def get_hr_scheduler_from_infotext(d: Mapping[str, Any]) -> str:
    """The Hires schedule type dropdown's value for a pasted infotext."""
    return get_hr_sampler_and_scheduler(d)[1]


def scheduler_filename_part(sampler_name: str | None, scheduler_name: str | None,
                            samplers: Sequence[Any] = SAMPLERS) -> str:
    """The schedule as the ``[scheduler]`` file-name tag writes it (``Automatic`` resolved, capitalized).

    Python's ``str.capitalize`` is applied as A1111 does, so ``SGM Uniform`` becomes ``Sgm uniform``.
    """
    scheduler = scheduler_name or "Automatic"
    if scheduler == "Automatic":
        sampler = find_sampler(sampler_name, samplers)
        scheduler = _options(sampler).get("scheduler", "Automatic") if sampler is not None else "Automatic"
    return scheduler.capitalize()


def uses_ensd(sampler_name: str | None, eta: float | None, sampler_eta: float | None = None,
              samplers: Sequence[Any] = SAMPLERS) -> bool:
    """Whether the sampler's extra noise depends on ``eta_noise_seed_delta`` (so ``ENSD`` is written).

    ``eta`` is the request's, ``sampler_eta`` the running sampler's; with neither
    the sampler's default applies (1, or 0 for ``default_eta_is_0`` samplers).
    A zero eta never uses ENSD.
    """
    config = find_sampler(sampler_name, samplers)
    if eta is None:
        eta = sampler_eta
    if eta is None and config is not None:
        eta = 0 if _options(config).get("default_eta_is_0", False) else 1.0
    if eta == 0 or config is None:
        return False
    return bool(_options(config).get("uses_ensd", False))
