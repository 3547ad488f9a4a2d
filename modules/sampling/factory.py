"""The sampler factory: a request's sampler and schedule type resolved once, and samplers built with their services.

The processing layer resolves ``sampler_name`` + ``scheduler`` once, when a job starts, with
:func:`choose_sampler` (or :meth:`SamplerFactory.choose`) into a :class:`SamplerChoice`, passes that choice down,
and builds each pass's sampler object with :meth:`SamplerFactory.create` — no name is looked up again.

A :class:`SamplerFactory` holds what every sampler it builds needs from the running application: the
:class:`modules.core.services.Services` (settings, job state, flags) and the :class:`SamplingHooks` the layers
above sampling provide (prompt schedules, refiner switch, live preview, NaN check, the extensions' CFG callbacks).
The composition root builds one per runtime; nothing here imports those layers.

Importing this module does not import torch.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from modules.core.services import current_services
from modules.sampling.environment import JobState, SamplingEnv, scheduled_conds
from modules.sampling.registry import SamplerData, all_samplers_map, create_sampler, split_sampler_and_scheduler
from modules.sampling.schedulers import Scheduler, find_scheduler, schedulers_map


class UnknownSamplerError(ValueError):
    """A sampler name that is neither a sampler, an alias, nor a legacy ``<sampler> <schedule>`` combination."""

    def __init__(self, name: str | None) -> None:
        super().__init__(f"sampler not found: {name}")
        self.name = name


@dataclasses.dataclass(frozen=True)
class SamplerChoice:
    """A sampler and a schedule type, resolved from request fields once.

    ``scheduler`` is the schedule type the request chose (``Automatic`` means the sampler's default, see
    :attr:`schedule`); ``name`` and ``scheduler_label`` are the canonical values for ``p.sampler_name`` and
    ``p.scheduler``.
    """

    config: SamplerData
    scheduler: Scheduler

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def scheduler_label(self) -> str:
        return self.scheduler.label

    @property
    def schedule(self) -> Scheduler | None:
        """The schedule type sampling uses: the chosen one, or for ``Automatic`` the sampler's default (None when
        the sampler has none: the model's own discretization)."""
        if self.scheduler.function is not None:
            return self.scheduler
        return find_scheduler(self.config.options.get("scheduler"))


def choose_sampler(sampler_name: str | None, scheduler_name: str | None) -> SamplerChoice:
    """Resolve request fields into a :class:`SamplerChoice`: no name means the first (default) sampler, a legacy
    combined name (``DPM++ 2M Karras``) splits into sampler and schedule type, no schedule type means
    ``Automatic``. :class:`UnknownSamplerError` for a name that names no sampler."""
    name, label = split_sampler_and_scheduler(sampler_name, scheduler_name)
    if name is None:
        raise UnknownSamplerError(sampler_name)
    return SamplerChoice(all_samplers_map[name], schedulers_map[label])


@dataclasses.dataclass
class SamplingHooks:
    """What the layers above sampling give every sampler; each field as in
    :class:`modules.sampling.environment.SamplingEnv` (None / empty: the environment's default)."""

    reconstruct_multicond_batch: Callable[[Any, int], tuple[list, Any]] | None = None
    """The prompting layer's scheduled-conds function; plain tensors pass through unchanged."""
    reconstruct_cond_batch: Callable[[Any, int], Any] | None = None
    refiner_switch: Callable[[Any, Any], bool] | None = None
    store_latent: Callable[[Any], None] | None = None
    nan_check: Callable[[Any, str], None] | None = None
    """Left out when the flags say ``--disable-nan-check``."""
    randn_local: Callable[[int, tuple], Any] | None = None
    cfg_denoiser_callbacks: list[Callable[[Any], None]] = dataclasses.field(default_factory=list)
    cfg_denoised_callbacks: list[Callable[[Any], None]] = dataclasses.field(default_factory=list)
    cfg_after_cfg_callbacks: list[Callable[[Any], None]] = dataclasses.field(default_factory=list)
    extra_noise_callbacks: list[Callable[[Any], None]] = dataclasses.field(default_factory=list)


class SamplerFactory:
    """Builds sampler objects with their :class:`SamplingEnv`: settings and job state from ``services`` (the
    installed services when None) and the upper layers' ``hooks`` (a :class:`SamplingHooks`, or a function
    returning one, called on first use so that wiring them imports nothing before a sampler is needed)."""

    def __init__(self, services: Any = None, hooks: SamplingHooks | Callable[[], SamplingHooks] | None = None) -> None:
        self.services = services
        self._hooks = hooks

    @property
    def hooks(self) -> SamplingHooks:
        if self._hooks is None:
            self._hooks = SamplingHooks()
        elif not isinstance(self._hooks, SamplingHooks):
            self._hooks = self._hooks()
        return self._hooks

    def environment(self) -> SamplingEnv:
        """The services one new sampler uses (read now: a test or Reload UI may have replaced the settings)."""
        services = self.services if self.services is not None else current_services()
        state = services.state if services.state is not None else JobState()
        env = SamplingEnv(opts=services.opts, state=state)
        hooks = self.hooks
        if hooks.reconstruct_multicond_batch is not None and hooks.reconstruct_cond_batch is not None:
            env.reconstruct_multicond_batch, env.reconstruct_cond_batch = scheduled_conds(
                hooks.reconstruct_multicond_batch, hooks.reconstruct_cond_batch)
        for field in ("refiner_switch", "store_latent", "randn_local"):
            value = getattr(hooks, field)
            if value is not None:
                setattr(env, field, value)
        if hooks.nan_check is not None and not getattr(services.cmd_opts, "disable_nan_check", False):
            env.nan_check = hooks.nan_check
        for field in ("cfg_denoiser_callbacks", "cfg_denoised_callbacks", "cfg_after_cfg_callbacks",
                      "extra_noise_callbacks"):
            setattr(env, field, list(getattr(hooks, field)))
        return env

    def choose(self, sampler_name: str | None, scheduler_name: str | None) -> SamplerChoice:
        """:func:`choose_sampler`."""
        return choose_sampler(sampler_name, scheduler_name)

    def create(self, sampler: SamplerChoice | str | None, model: Any) -> Any:
        """A new sampler object on ``model`` for a :class:`SamplerChoice` (or, as A1111's ``create_sampler``, a
        sampler name or alias: ``ValueError`` when unknown)."""
        if isinstance(sampler, SamplerChoice):
            return create_sampler(sampler.config, model, self.environment())
        return create_sampler(sampler, model, self.environment())


def sampler_factory(services: Any = None) -> SamplerFactory:
    """The factory of ``services`` (the installed ones when None): ``services.sampler_factory`` as the bootstrap
    set it, else a factory without the upper layers' hooks (tests, scripts sampling on their own)."""
    services = services if services is not None else current_services()
    factory = getattr(services, "sampler_factory", None)
    return factory if factory is not None else SamplerFactory(services)
