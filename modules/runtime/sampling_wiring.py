"""The sampler factory of a runtime: sampling's :class:`~modules.sampling.factory.SamplerFactory` wired to the
layers above it (the hooks of :func:`modules.processing.sampler_setup.sampling_hooks`: the prompt layer's cond
schedules, the refiner switch, the live preview, the NaN check and the extensions' CFG callbacks), which sampling
itself must not import.  The bootstrap sets it as ``services.sampler_factory``.
"""
from __future__ import annotations

from modules.core.services import Services
from modules.sampling.factory import SamplerFactory, SamplingHooks


def _hooks(services: Services) -> SamplingHooks:
    # torch on first use: processing's sampler setup imports torch, and the API start path builds the factory
    from modules.processing.sampler_setup import sampling_hooks

    return sampling_hooks(services)


def build_sampler_factory(services: Services) -> SamplerFactory:
    """The factory for ``services``; its hooks are made when the first sampler is built."""
    return SamplerFactory(services, hooks=lambda: _hooks(services))
