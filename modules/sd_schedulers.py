"""A1111's ``modules.sd_schedulers``: the schedule types (thin re-export of :mod:`modules.sampling.schedulers`; the
schedule functions of :mod:`modules.sampling.schedules` load on first access)."""
from __future__ import annotations

from typing import Any

from modules.sampling.schedulers import Scheduler, schedulers, schedulers_map  # noqa: F401

_FUNCTIONS = {
    "uniform": "uniform",
    "sgm_uniform": "sgm_uniform",
    "get_align_your_steps_sigmas": "align_your_steps",
    "kl_optimal": "kl_optimal",
    "simple_scheduler": "simple_scheduler",
    "normal_scheduler": "normal_scheduler",
    "ddim_scheduler": "ddim_scheduler",
    "beta_scheduler": "beta_scheduler",
    "to_d": None,
}


def __getattr__(name: str) -> Any:
    if name not in _FUNCTIONS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name == "to_d":
        from modules.sampling.sampler_math import to_d

        return to_d
    from modules.sampling import schedules

    return getattr(schedules, _FUNCTIONS[name])
