"""A1111's ``modules.sd_samplers``: the sampler list and ``create_sampler`` (thin re-export of
:mod:`modules.sampling.registry` and :mod:`modules.sampling.factory`).

Samplers are built by the installed services' sampler factory (``services.sampler_factory``, set by the
composition root).
"""
from __future__ import annotations

from typing import Any, Callable

from modules.core.services import current_services
from modules.sampling import registry as _registry
from modules.sampling.factory import SamplerChoice, SamplerFactory, choose_sampler  # noqa: F401
from modules.sampling.registry import (SamplerData, all_samplers, all_samplers_map, find_sampler_config,  # noqa: F401
                                       fix_p_invalid_sampler_and_scheduler, get_hr_sampler_and_scheduler,
                                       get_hr_sampler_from_infotext, get_hr_scheduler_from_infotext,
                                       get_sampler_and_scheduler, get_sampler_from_infotext,
                                       get_scheduler_from_infotext, samplers, samplers_for_img2img, samplers_hidden,
                                       samplers_map, split_sampler_and_scheduler, visible_sampler_names)

environment_factory: Callable[[], Any] | None = None
"""Kept for extensions that replaced it: when set, it builds the ``SamplingEnv`` of every new sampler."""


def sampler_factory() -> SamplerFactory:
    """The installed services' sampler factory (before the bootstrap built one: the processing layer's)."""
    # torch on first use: the processing layer imports torch; importing the sampler list must not
    from modules.processing.sampler_setup import factory_of

    return factory_of(current_services())


def current_environment() -> Any:
    """The services a sampler created now uses."""
    if environment_factory is not None:
        return environment_factory()
    return sampler_factory().environment()


def create_sampler(name: str | None, model: Any) -> Any:
    """A1111's ``create_sampler(name, model)``."""
    if environment_factory is not None:
        return _registry.create_sampler(name, model, environment_factory())
    return sampler_factory().create(name, model)


def set_samplers() -> None:
    """Refresh the sampler maps, hiding the names in setting ``hide_samplers``."""
    opts = current_services().opts
    _registry.set_samplers(getattr(opts, "hide_samplers", []) if opts is not None else [])
