"""The sampler factory: request fields resolved once into a SamplerChoice, samplers built from it with the
environment of their services and the upper layers' hooks."""
from __future__ import annotations

import types

import pytest
import torch

from modules.core.services import Services
from modules.sampling import registry
from modules.sampling.environment import JobState
from modules.sampling.factory import (SamplerChoice, SamplerFactory, SamplingHooks, UnknownSamplerError,
                                      choose_sampler, sampler_factory)
from modules.sampling.schedulers import schedulers_map
from tests.sampling.helpers import MU, FakeP, GaussianLDM, text_cond


@pytest.mark.parametrize(("sampler_name", "scheduler", "expected"), [
    (None, None, ("DPM++ 2M", "Automatic")),
    ("Euler a", None, ("Euler a", "Automatic")),
    ("k_euler_a", "karras", ("Euler a", "Karras")),
    ("DPM++ 2M Karras", None, ("DPM++ 2M", "Karras")),
    ("DPM++ 2M Karras", "Exponential", ("DPM++ 2M", "Karras")),
    ("ddim", "SGMUniform", ("DDIM", "SGM Uniform")),
])
def test_choose_sampler_resolves_names_aliases_and_legacy_combinations(sampler_name, scheduler, expected):
    choice = choose_sampler(sampler_name, scheduler)
    assert (choice.name, choice.scheduler_label) == expected
    assert choice.config is registry.all_samplers_map[expected[0]]
    assert choice.scheduler is schedulers_map[expected[1]]
    assert registry.split_sampler_and_scheduler(sampler_name, scheduler) == expected


def test_an_unknown_sampler_is_an_error_naming_it():
    with pytest.raises(UnknownSamplerError, match="sampler not found: Nope") as error:
        choose_sampler("Nope", None)
    assert error.value.name == "Nope" and isinstance(error.value, ValueError)


def test_the_schedule_of_automatic_is_the_samplers_default():
    assert choose_sampler("DPM++ 2M", "Automatic").schedule is schedulers_map["karras"]
    assert choose_sampler("DPM++ 2M", "Exponential").schedule is schedulers_map["exponential"]
    assert choose_sampler("Euler", None).schedule is None  # the model's own discretization


def test_create_takes_the_choice_without_looking_the_name_up_again(monkeypatch):
    choice = choose_sampler("Euler a", None)
    monkeypatch.setattr(registry, "find_sampler_config", lambda name: pytest.fail(f"looked up {name!r} again"))
    services = Services(opts=types.SimpleNamespace(eta_ancestral=0.4), state=JobState())
    sampler = SamplerFactory(services).create(choice, GaussianLDM())
    assert sampler.config is choice.config and sampler.env.opts is services.opts and sampler.env.state is services.state
    p = FakeP(steps=4, extra_generation_params={})
    out = sampler.sample(p, torch.randn(1, 1, 8, 8), text_cond(1, MU), text_cond(1, MU))
    assert out.shape == (1, 1, 8, 8) and services.state.sampling_steps == 4 and p.extra_generation_params["Eta"] == 0.4


def test_create_by_name_is_a1111s_create_sampler():
    factory = SamplerFactory(Services())
    assert factory.create("k_dpmpp_2m", GaussianLDM()).config.name == "DPM++ 2M"
    with pytest.raises(ValueError, match="bad sampler name"):
        factory.create("no such sampler", GaussianLDM())


def test_the_environment_carries_the_hooks_and_reads_the_services_when_built():
    calls = []
    hooks = SamplingHooks(reconstruct_multicond_batch=lambda c, step: calls.append("multi") or c,
                          reconstruct_cond_batch=lambda c, step: calls.append("single") or c,
                          refiner_switch=lambda denoiser, sigma: False, store_latent=calls.append,
                          nan_check=lambda x, where: None, cfg_denoiser_callbacks=[calls.append])
    services = Services(opts=types.SimpleNamespace(), cmd_opts=types.SimpleNamespace(disable_nan_check=False))
    built = []

    def wire() -> SamplingHooks:
        built.append(True)
        return hooks

    factory = SamplerFactory(services, hooks=wire)
    assert not built  # wired on first use only
    env = factory.environment()
    assert built == [True]
    assert isinstance(env.state, JobState) and env.opts is services.opts
    assert env.refiner_switch is hooks.refiner_switch and env.store_latent is hooks.store_latent
    assert env.nan_check is hooks.nan_check and env.cfg_denoiser_callbacks == [calls.append]
    env.cfg_denoiser_callbacks.append(print)
    assert hooks.cfg_denoiser_callbacks == [calls.append]  # each environment has its own lists
    schedule = object()
    assert env.reconstruct_cond_batch(schedule, 0) is schedule and calls == ["single"]
    plain = torch.zeros(2, 3, 4)
    assert env.reconstruct_cond_batch(plain, 0) is plain and calls == ["single"]  # plain conds pass through

    services.cmd_opts.disable_nan_check = True
    services.opts = types.SimpleNamespace(changed=True)
    env = factory.environment()
    assert env.nan_check is None and env.opts is services.opts and built == [True]


def test_sampler_factory_is_the_services_own_or_a_bare_one():
    mine = SamplerFactory()
    assert sampler_factory(Services(sampler_factory=mine)) is mine
    services = Services()
    bare = sampler_factory(services)
    assert bare.services is services and bare.environment().refiner_switch is None


def test_the_skin_builds_samplers_with_the_installed_factory(restore_shared, monkeypatch):
    from modules import sd_samplers
    from modules.core.services import current_services

    made = []

    class Recording(SamplerFactory):
        def create(self, sampler, model):
            made.append(sampler)
            return super().create(sampler, model)

    monkeypatch.setattr(current_services(), "sampler_factory", Recording(Services()))
    assert sd_samplers.create_sampler("Euler", GaussianLDM()).config.name == "Euler"
    assert made == ["Euler"]
    assert isinstance(choose_sampler("Euler", None), SamplerChoice)
