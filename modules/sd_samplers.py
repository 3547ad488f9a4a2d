"""A1111's ``modules.sd_samplers``: the sampler list and ``create_sampler`` (thin re-export of
:mod:`modules.sampling.registry`, with the services taken from ``modules.shared`` and A1111's modules)."""
from __future__ import annotations

import importlib
from typing import Any, Callable

from modules.sampling import registry as _registry
from modules.sampling.registry import (SamplerData, all_samplers, all_samplers_map, find_sampler_config,  # noqa: F401
                                       fix_p_invalid_sampler_and_scheduler, get_hr_sampler_and_scheduler,
                                       get_hr_sampler_from_infotext, get_hr_scheduler_from_infotext,
                                       get_sampler_and_scheduler, get_sampler_from_infotext,
                                       get_scheduler_from_infotext, samplers, samplers_for_img2img, samplers_hidden,
                                       samplers_map, split_sampler_and_scheduler, visible_sampler_names)

environment_factory: Callable[[], Any] | None = None
"""Set by the runtime to build the :class:`modules.sampling.environment.SamplingEnv` of new samplers. Without it,
samplers get ``shared.opts`` / ``shared.state`` and whatever of A1111's helper modules exist."""


def _optional(module: str, attr: str) -> Any:
    """``module.attr`` when that module exists (the layers above sampling may not be built yet), else None."""
    try:
        return getattr(importlib.import_module(module), attr, None)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        return None


def current_environment() -> Any:
    """The services a sampler created now uses."""
    if environment_factory is not None:
        return environment_factory()
    from modules import shared
    from modules.sampling.environment import JobState, SamplingEnv, scheduled_conds

    state = shared.state if shared.state is not None else JobState()
    env = SamplingEnv(opts=shared.opts, state=state)
    multicond = _optional("modules.prompt_parser", "reconstruct_multicond_batch")
    single = _optional("modules.prompt_parser", "reconstruct_cond_batch")
    if multicond is not None and single is not None:
        env.reconstruct_multicond_batch, env.reconstruct_cond_batch = scheduled_conds(multicond, single)
    for field, (module, attr) in {
        "refiner_switch": ("modules.processing.refiner", "apply_refiner"),
        "randn_local": ("modules.devices", "randn_local"),
        "nan_check": ("modules.devices", "test_for_nans"),
        "store_latent": ("modules.processing.live_preview", "store_latent"),
    }.items():
        if field == "nan_check" and getattr(shared.cmd_opts, "disable_nan_check", False):
            continue
        value = _optional(module, attr)
        if value is not None:
            setattr(env, field, value)
    for field, attr in {"cfg_denoiser_callbacks": "cfg_denoiser_callback",
                        "cfg_denoised_callbacks": "cfg_denoised_callback",
                        "cfg_after_cfg_callbacks": "cfg_after_cfg_callback",
                        "extra_noise_callbacks": "extra_noise_callback"}.items():
        dispatcher = _optional("modules.script_callbacks", attr)
        if dispatcher is not None:
            setattr(env, field, [dispatcher])
    return env


def create_sampler(name: str | None, model: Any) -> Any:
    """A1111's ``create_sampler(name, model)``."""
    return _registry.create_sampler(name, model, current_environment())


def set_samplers() -> None:
    """Refresh the sampler maps, hiding the names in setting ``hide_samplers``."""
    from modules import shared

    hidden = getattr(shared.opts, "hide_samplers", []) if shared.opts is not None else []
    _registry.set_samplers(hidden)
