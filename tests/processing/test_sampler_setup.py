"""The job's sampler is resolved once when it starts; samplers are built from that choice."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from modules.core.services import Services
from modules.processing.errors import GenerationError
from modules.processing.sampler_setup import create_sampler, resolve_sampler


class RecordingFactory:
    def __init__(self):
        self.created = []

    def create(self, sampler, model):
        self.created.append(sampler)
        return sampler


def job(**fields):
    values = dict(sampler_name=None, scheduler=None, hr_sampler_name=None, hr_scheduler=None, sd_model=None,
                  services=Services(sampler_factory=RecordingFactory()))
    values.update(fields)
    return SimpleNamespace(**values)


def test_combined_names_resolve_to_a_choice_and_samplers_are_built_from_it():
    p = job(sampler_name="DPM++ 2M Karras", hr_sampler_name="euler a", hr_scheduler="Use same scheduler")
    resolve_sampler(p)
    assert (p.sampler_name, p.scheduler, p.sampler_choice.name) == ("DPM++ 2M", "Karras", "DPM++ 2M")
    assert (p.hr_sampler_name, p.hr_scheduler, p.hr_sampler_choice.name) == ("Euler a", "Automatic", "Euler a")
    assert create_sampler(p) is p.sampler_choice
    assert create_sampler(p, hires=True) is p.hr_sampler_choice


def test_unknown_names_fail_naming_them():
    with pytest.raises(GenerationError, match="sampler not found: Nope"):
        resolve_sampler(job(sampler_name="Nope"))
    with pytest.raises(GenerationError, match="hires sampler not found: Nah"):
        resolve_sampler(job(sampler_name="Euler", hr_sampler_name="Nah"))


def test_a_name_changed_by_a_script_after_the_start_is_looked_up():
    p = job(sampler_name="Euler")
    resolve_sampler(p)
    p.sampler_name = "DDIM"
    assert create_sampler(p) == "DDIM"
