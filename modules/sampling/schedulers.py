"""The schedule types of A1111 1.10 (``scheduler`` field, infotext ``Schedule type``), in UI order.

Importing this module does not import torch: each entry points at its function in
:mod:`modules.sampling.schedules` through a reference resolved on first call.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable


class LazyFunction:
    """A schedule function of :mod:`modules.sampling.schedules`, imported the first time it is used."""

    def __init__(self, attr: str) -> None:
        self.attr = attr
        self._target: Callable[..., Any] | None = None

    def resolve(self) -> Callable[..., Any]:
        if self._target is None:
            # torch on first use: the schedule functions import torch, listing the schedule types must not
            from modules.sampling import schedules

            self._target = getattr(schedules, self.attr)
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<modules.sampling.schedules.{self.attr}>"


def _schedule(attr: str) -> LazyFunction:
    return LazyFunction(attr)


@dataclasses.dataclass
class Scheduler:
    """One schedule type: ``function(n, sigma_min, sigma_max, [rho], [inner_model], device)`` -> sigmas.

    ``function`` is None for ``Automatic`` (the sampler's default, else the model's own discretization).
    """

    name: str
    label: str
    function: Any

    default_rho: float = -1
    need_inner_model: bool = False
    aliases: list | None = None

    def api_item(self) -> dict[str, Any]:
        """The ``/sdapi/v1/schedulers`` item."""
        return {"name": self.name, "label": self.label, "aliases": self.aliases,
                "default_rho": self.default_rho, "need_inner_model": self.need_inner_model}


schedulers: list[Scheduler] = [
    Scheduler("automatic", "Automatic", None),
    Scheduler("uniform", "Uniform", _schedule("uniform"), need_inner_model=True),
    Scheduler("karras", "Karras", _schedule("get_sigmas_karras"), default_rho=7.0),
    Scheduler("exponential", "Exponential", _schedule("get_sigmas_exponential")),
    Scheduler("polyexponential", "Polyexponential", _schedule("get_sigmas_polyexponential"), default_rho=1.0),
    Scheduler("sgm_uniform", "SGM Uniform", _schedule("sgm_uniform"), need_inner_model=True, aliases=["SGMUniform"]),
    Scheduler("kl_optimal", "KL Optimal", _schedule("kl_optimal")),
    Scheduler("align_your_steps", "Align Your Steps", _schedule("align_your_steps")),
    Scheduler("simple", "Simple", _schedule("simple_scheduler"), need_inner_model=True),
    Scheduler("normal", "Normal", _schedule("normal_scheduler"), need_inner_model=True),
    Scheduler("ddim", "DDIM", _schedule("ddim_scheduler"), need_inner_model=True),
    Scheduler("beta", "Beta", _schedule("beta_scheduler"), need_inner_model=True),
]

schedulers_map: dict[str, Scheduler] = {}
"""A1111's lookup: every scheduler by ``name`` and by ``label`` (kept in step by :func:`refresh_schedulers_map`)."""


def refresh_schedulers_map() -> None:
    """Rebuild :data:`schedulers_map` after an extension appended to :data:`schedulers`."""
    schedulers_map.clear()
    schedulers_map.update({x.name: x for x in schedulers})
    schedulers_map.update({x.label: x for x in schedulers})


refresh_schedulers_map()


def find_scheduler(name: str | None) -> Scheduler | None:
    """The scheduler called ``name`` (its id, label or an alias; exact first, then ignoring case), else None."""
    if not name:
        return None
    found = schedulers_map.get(name)
    if found is not None:
        return found
    lowered = name.lower()
    for scheduler in schedulers:
        if lowered in (scheduler.name.lower(), scheduler.label.lower(), *(a.lower() for a in scheduler.aliases or [])):
            return scheduler
    return None


def schedulers_api_list() -> list[dict[str, Any]]:
    """The body of ``GET /sdapi/v1/schedulers``."""
    return [s.api_item() for s in schedulers]
