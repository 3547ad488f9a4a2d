"""A job's sampler: the name and schedule type resolved once when the job starts, the sampler objects built from
that choice with the job's services.

:func:`resolve_sampler` turns ``p.sampler_name`` / ``p.scheduler`` (and the hires pair) into the sampler's
:class:`~modules.sampling.registry.SamplerData` on ``p.sampler_config`` / ``p.hr_sampler_config``;
:func:`create_sampler` builds a sampler from that config with a :class:`~modules.sampling.environment.SamplingEnv`
made of ``p.services`` (settings, job state, the prompt layer's cond schedules, extensions' CFG callbacks, the
live preview, the refiner switch).
"""
from __future__ import annotations

from typing import Any

from modules.core.services import Services
from modules.processing.latents import test_for_nans
from modules.processing.live_preview import store_latent
from modules.processing.processing_base import GenerationError
from modules.processing.refiner import apply_refiner
from modules.prompting.conditioning import cond_schedule_functions
from modules.sampling import registry
from modules.sampling.environment import JobState, SamplingEnv, scheduled_conds
from modules.scripting import callback_registry

NOT_A_HIRES_SAMPLER = (None, "", "Use same sampler")


def resolve_sampler(p: Any) -> None:
    """Resolve the job's sampler once: unknown sampler names are an error naming them (A1111 silently falls back);
    no name means the default sampler; old combined names (``DPM++ 2M Karras``) split into sampler and schedule
    type; no schedule type means ``Automatic``.  Sets ``sampler_name``/``scheduler`` to the canonical names and
    ``sampler_config`` (and the hires fields) on ``p``."""
    if p.sampler_name is None:
        p.sampler_name = registry.all_samplers[0].name
    name, label = registry.split_sampler_and_scheduler(p.sampler_name, p.scheduler)
    if name is None:
        raise GenerationError(f"sampler not found: {p.sampler_name}")
    p.sampler_name, p.scheduler = name, label
    p.sampler_config = registry.find_sampler_config(name)
    hr_name = getattr(p, "hr_sampler_name", None)
    if hr_name not in NOT_A_HIRES_SAMPLER:
        hr_sampler, hr_label = registry.split_sampler_and_scheduler(hr_name, getattr(p, "hr_scheduler", None))
        if hr_sampler is None:
            raise GenerationError(f"hires sampler not found: {hr_name}")
        p.hr_sampler_name, p.hr_scheduler = hr_sampler, hr_label
        p.hr_sampler_config = registry.find_sampler_config(hr_sampler)
    elif hr_name is not None:
        p.hr_sampler_name = None
    if getattr(p, "hr_scheduler", None) == "Use same scheduler":
        p.hr_scheduler = None


def _config_for(name: str | None, resolved: Any) -> Any:
    """The resolved config while the name is unchanged; a name a script set after the job started is looked up."""
    if resolved is not None and (name is None or name == resolved.name):
        return resolved
    config = registry.find_sampler_config(name)
    if config is None:
        raise GenerationError(f"sampler not found: {name}")
    return config


def _isolated(category: str, job: str) -> list:
    def dispatch(params: Any) -> None:
        callback_registry.run(category, job, params)

    return [dispatch]


def sampling_env(services: Services) -> SamplingEnv:
    """The services a sampler of this runtime uses."""
    state = services.state if services.state is not None else JobState()
    env = SamplingEnv(opts=services.opts, state=state)
    env.reconstruct_multicond_batch, env.reconstruct_cond_batch = scheduled_conds(*cond_schedule_functions())
    env.refiner_switch = apply_refiner
    env.store_latent = lambda latent: store_latent(latent, services.state)
    if not getattr(services.cmd_opts, "disable_nan_check", False):
        env.nan_check = test_for_nans
    env.cfg_denoiser_callbacks = _isolated("cfg_denoiser", "cfg_denoiser_callback")
    env.cfg_denoised_callbacks = _isolated("cfg_denoised", "cfg_denoised_callback")
    env.cfg_after_cfg_callbacks = _isolated("cfg_after_cfg", "cfg_after_cfg_callback")
    env.extra_noise_callbacks = _isolated("extra_noise", "callbacks_extra_noise")
    return env


def create_sampler(p: Any, hires: bool = False) -> Any:
    """A sampler for the job's first pass (or its hires pass) on ``p.sd_model``."""
    if hires and getattr(p, "hr_sampler_name", None):
        config = _config_for(p.hr_sampler_name, p.hr_sampler_config)
    else:
        config = _config_for(p.sampler_name, p.sampler_config)
    return registry.create_sampler(config.name, p.sd_model, sampling_env(p.services))
