"""The job's sampler is resolved once when it starts; samplers are built from that resolution."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from modules.processing.errors import GenerationError
from modules.processing.sampler_setup import _config_for, resolve_sampler


def job(**fields):
    values = dict(sampler_name=None, scheduler=None, hr_sampler_name=None, hr_scheduler=None,
                  sampler_config=None, hr_sampler_config=None)
    values.update(fields)
    return SimpleNamespace(**values)


def test_combined_names_resolve_to_a_config_and_a_schedule_type():
    p = job(sampler_name="DPM++ 2M Karras", hr_sampler_name="euler a", hr_scheduler="Use same scheduler")
    resolve_sampler(p)
    assert (p.sampler_name, p.scheduler, p.sampler_config.name) == ("DPM++ 2M", "Karras", "DPM++ 2M")
    assert (p.hr_sampler_name, p.hr_sampler_config.name) == ("Euler a", "Euler a")
    assert _config_for(p.sampler_name, p.sampler_config) is p.sampler_config


def test_unknown_names_fail_naming_them():
    with pytest.raises(GenerationError, match="sampler not found: Nope"):
        resolve_sampler(job(sampler_name="Nope"))
    with pytest.raises(GenerationError, match="hires sampler not found: Nah"):
        resolve_sampler(job(sampler_name="Euler", hr_sampler_name="Nah"))


def test_a_name_changed_by_a_script_after_the_start_is_looked_up():
    p = job(sampler_name="Euler")
    resolve_sampler(p)
    p.sampler_name = "DDIM"
    assert _config_for(p.sampler_name, p.sampler_config).name == "DDIM"
