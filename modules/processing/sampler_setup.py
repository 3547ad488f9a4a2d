"""A job's sampler: the name and schedule type resolved once when the job starts, the sampler objects built from
that choice by the services' sampler factory.

:func:`resolve_sampler` turns ``p.sampler_name`` / ``p.scheduler`` (and the hires pair) into a
:class:`~modules.sampling.factory.SamplerChoice` on ``p.sampler_choice`` / ``p.hr_sampler_choice``;
:func:`create_sampler` builds each pass's sampler from that choice with ``services.sampler_factory`` (the
composition root sets it).  :func:`sampling_hooks` is what this layer and the ones below it give every sampler
(the prompt layer's cond schedules, the refiner switch, the live preview, the NaN check, extensions' CFG callbacks).
"""
from __future__ import annotations

from typing import Any, Callable

from modules.core.services import Services
from modules.processing.errors import GenerationError
from modules.processing.latents import test_for_nans
from modules.processing.live_preview import store_latent
from modules.processing.refiner import apply_refiner
from modules.prompting.conditioning import cond_schedule_functions
from modules.sampling import registry
from modules.sampling.factory import SamplerChoice, SamplerFactory, SamplingHooks, UnknownSamplerError, choose_sampler
from modules.scripting import callback_registry

NOT_A_HIRES_SAMPLER = (None, "", "Use same sampler")


def _choose(name: str | None, scheduler: str | None, what: str) -> SamplerChoice:
    try:
        return choose_sampler(name, scheduler)
    except UnknownSamplerError as e:
        raise GenerationError(f"{what} not found: {name}") from e


def resolve_sampler(p: Any) -> None:
    """Resolve the job's sampler once: unknown sampler names are an error naming them (A1111 silently falls back);
    no name means the default sampler; old combined names (``DPM++ 2M Karras``) split into sampler and schedule
    type; no schedule type means ``Automatic``.  Sets ``sampler_name``/``scheduler`` to the canonical names and
    ``sampler_choice`` (and the hires fields) on ``p``."""
    if p.sampler_name is None:
        p.sampler_name = registry.all_samplers[0].name
    p.sampler_choice = _choose(p.sampler_name, p.scheduler, "sampler")
    p.sampler_name, p.scheduler = p.sampler_choice.name, p.sampler_choice.scheduler_label
    hr_name = getattr(p, "hr_sampler_name", None)
    if hr_name not in NOT_A_HIRES_SAMPLER:
        p.hr_sampler_choice = _choose(hr_name, getattr(p, "hr_scheduler", None), "hires sampler")
        p.hr_sampler_name, p.hr_scheduler = p.hr_sampler_choice.name, p.hr_sampler_choice.scheduler_label
    elif hr_name is not None:
        p.hr_sampler_name = None
    if getattr(p, "hr_scheduler", None) == "Use same scheduler":
        p.hr_scheduler = None


def _isolated(category: str, job: str) -> list[Callable[..., None]]:
    # the callbacks registered when a sampler runs, in their order, each reported and skipped when it fails
    def dispatch(params: object) -> None:
        callback_registry.run(category, job, params)

    return [dispatch]


def sampling_hooks(services: Services) -> SamplingHooks:
    """What every sampler of ``services`` gets from the layers above sampling."""
    # looked up on each call: an extension may replace them on modules.prompt_parser after the first sampler
    def reconstruct_multicond_batch(cond: Any, step: int) -> Any:
        return cond_schedule_functions()[0](cond, step)

    def reconstruct_cond_batch(cond: Any, step: int) -> Any:
        return cond_schedule_functions()[1](cond, step)

    return SamplingHooks(
        reconstruct_multicond_batch=reconstruct_multicond_batch, reconstruct_cond_batch=reconstruct_cond_batch,
        refiner_switch=apply_refiner, store_latent=lambda latent: store_latent(latent, services.state),
        nan_check=test_for_nans,
        cfg_denoiser_callbacks=_isolated("cfg_denoiser", "cfg_denoiser_callback"),
        cfg_denoised_callbacks=_isolated("cfg_denoised", "cfg_denoised_callback"),
        cfg_after_cfg_callbacks=_isolated("cfg_after_cfg", "cfg_after_cfg_callback"),
        extra_noise_callbacks=_isolated("extra_noise", "callbacks_extra_noise"))


def factory_of(services: Services) -> SamplerFactory:
    """``services.sampler_factory``, or (services the bootstrap did not build) a factory with this layer's hooks."""
    factory = getattr(services, "sampler_factory", None)
    return factory if factory is not None else SamplerFactory(services, hooks=lambda: sampling_hooks(services))


def create_sampler(p: Any, hires: bool = False) -> Any:
    """A sampler for the job's first pass (or its hires pass) on ``p.sd_model``, from the choice made when the job
    started; a name a script set since then is looked up (``ValueError`` when unknown, as A1111's)."""
    if hires and getattr(p, "hr_sampler_name", None):
        name, choice = p.hr_sampler_name, getattr(p, "hr_sampler_choice", None)
    else:
        name, choice = p.sampler_name, getattr(p, "sampler_choice", None)
    factory = factory_of(p.services)
    if choice is not None and (name is None or name == choice.name):
        return factory.create(choice, p.sd_model)
    return factory.create(name, p.sd_model)
