"""The sampler factory of a runtime: sampling's :class:`~modules.sampling.factory.SamplerFactory` wired to the
layers above it (the prompt layer's cond schedules, the refiner switch, the live preview, the NaN check and the
extensions' CFG callbacks), which sampling itself must not import.  The bootstrap sets it as
``services.sampler_factory``.
"""
from __future__ import annotations

from typing import Any, Callable

from modules.core.services import Services
from modules.sampling.factory import SamplerFactory, SamplingHooks
from modules.scripting import callback_registry


def _isolated(category: str, job: str) -> list[Callable[..., None]]:
    # the callbacks registered when a sampler is built, in their order, each reported and skipped when it fails
    def dispatch(params: object) -> None:
        callback_registry.run(category, job, params)

    return [dispatch]


def sampling_hooks(services: Services) -> SamplingHooks:
    """What every sampler of ``services`` gets from the layers above sampling."""
    # torch on first use: these modules import torch, and the API start path builds the factory without it
    from modules.processing.latents import test_for_nans
    from modules.processing.live_preview import store_latent
    from modules.processing.refiner import apply_refiner
    from modules.prompting.conditioning import cond_schedule_functions

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


def build_sampler_factory(services: Services) -> SamplerFactory:
    """The factory for ``services``; its hooks are made when the first sampler is built."""
    return SamplerFactory(services, hooks=lambda: sampling_hooks(services))
