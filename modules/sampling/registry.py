"""A1111 1.10's sampler list, in UI order, with names, aliases and per-sampler options; lookup and construction.

Importing this module does not import torch; the sampler classes load when a sampler is created.
"""
from __future__ import annotations

import logging
from collections import namedtuple
from typing import Any, Iterable

from modules.sampling.schedulers import find_scheduler, schedulers, schedulers_map

log = logging.getLogger(__name__)

SamplerDataTuple = namedtuple("SamplerData", ["name", "constructor", "aliases", "options"])


class SamplerData(SamplerDataTuple):
    """One sampler: ``constructor(model)`` builds its sampler object; ``options`` carries ``scheduler`` (default
    schedule), ``second_order``, ``uses_ensd``, ``brownian_noise``, ``discard_next_to_last_sigma``, ``solver_type``."""

    def total_steps(self, steps: int) -> int:
        """Denoiser calls for ``steps`` steps: second-order samplers evaluate the model twice per step."""
        if self.options.get("second_order", False):
            steps = steps * 2
        return steps


class SamplerNotSupportedError(ValueError):
    """A sampler the loaded model cannot use (a timestep sampler on SD3): bad input, answered with a 4xx."""


class SamplerConstructor:
    """``constructor(model, env=None)`` for the built-in samplers: the sampler class is imported on first use."""

    def __init__(self, kind: str, funcname: str, options: dict[str, Any]) -> None:
        self.kind = kind
        self.funcname = funcname
        self.options = options

    def __call__(self, model: Any, env: Any = None) -> Any:
        return _sampler_class(self.kind)(self.funcname, model, env, options=self.options)

    def __repr__(self) -> str:
        return f"<{self.kind} sampler {self.funcname}>"


def _sampler_class(kind: str) -> type:
    # torch on first use: the sampler classes import torch, listing the samplers must not (API start path)
    from modules.sampling.sampler_kdiffusion import KDiffusionSampler, LCMSampler
    from modules.sampling.sampler_timesteps import CompVisSampler

    return {"k-diffusion": KDiffusionSampler, "timesteps": CompVisSampler, "lcm": LCMSampler}[kind]

samplers_k_diffusion = [
    ("DPM++ 2M", "sample_dpmpp_2m", ["k_dpmpp_2m"], {"scheduler": "karras"}),
    ("DPM++ SDE", "sample_dpmpp_sde", ["k_dpmpp_sde"],
     {"scheduler": "karras", "second_order": True, "brownian_noise": True}),
    ("DPM++ 2M SDE", "sample_dpmpp_2m_sde", ["k_dpmpp_2m_sde"], {"scheduler": "exponential", "brownian_noise": True}),
    ("DPM++ 2M SDE Heun", "sample_dpmpp_2m_sde", ["k_dpmpp_2m_sde_heun"],
     {"scheduler": "exponential", "brownian_noise": True, "solver_type": "heun"}),
    ("DPM++ 2S a", "sample_dpmpp_2s_ancestral", ["k_dpmpp_2s_a"],
     {"scheduler": "karras", "uses_ensd": True, "second_order": True}),
    ("DPM++ 3M SDE", "sample_dpmpp_3m_sde", ["k_dpmpp_3m_sde"],
     {"scheduler": "exponential", "discard_next_to_last_sigma": True, "brownian_noise": True}),
    ("Euler a", "sample_euler_ancestral", ["k_euler_a", "k_euler_ancestral"], {"uses_ensd": True}),
    ("Euler", "sample_euler", ["k_euler"], {}),
    ("LMS", "sample_lms", ["k_lms"], {}),
    ("Heun", "sample_heun", ["k_heun"], {"second_order": True}),
    ("DPM2", "sample_dpm_2", ["k_dpm_2"],
     {"scheduler": "karras", "discard_next_to_last_sigma": True, "second_order": True}),
    ("DPM2 a", "sample_dpm_2_ancestral", ["k_dpm_2_a"],
     {"scheduler": "karras", "discard_next_to_last_sigma": True, "uses_ensd": True, "second_order": True}),
    ("DPM fast", "sample_dpm_fast", ["k_dpm_fast"], {"uses_ensd": True}),
    ("DPM adaptive", "sample_dpm_adaptive", ["k_dpm_ad"], {"uses_ensd": True}),
    ("Restart", "restart_sampler", ["restart"], {"scheduler": "karras", "second_order": True}),
]
"""(name, function, aliases, options) of the k-diffusion-style samplers, as A1111's table."""

samplers_timesteps = [
    ("DDIM", "ddim", ["ddim"], {}),
    ("DDIM CFG++", "ddim_cfgpp", ["ddim_cfgpp"], {}),
    ("PLMS", "plms", ["plms"], {}),
    ("UniPC", "unipc", ["unipc"], {}),
]

samplers_lcm = [("LCM", "sample_lcm", ["k_lcm"], {})]


def _data(kind: str, table: Iterable[tuple]) -> list[SamplerData]:
    return [SamplerData(name, SamplerConstructor(kind, funcname, options), aliases, options)
            for name, funcname, aliases, options in table]


samplers_data_k_diffusion = _data("k-diffusion", samplers_k_diffusion)
samplers_data_timesteps = _data("timesteps", samplers_timesteps)
samplers_data_lcm = _data("lcm", samplers_lcm)

all_samplers: list[SamplerData] = [*samplers_data_k_diffusion, *samplers_data_timesteps, *samplers_data_lcm]
"""Every sampler in UI order; extensions append to it and call :func:`set_samplers`."""
all_samplers_map: dict[str, SamplerData] = {x.name: x for x in all_samplers}
samplers: list[SamplerData] = all_samplers
samplers_for_img2img: list[SamplerData] = all_samplers
samplers_hidden: set[str] = set()
samplers_map: dict[str, str] = {}
"""Lowercased name or alias -> sampler name."""


def set_samplers(hide_samplers: Iterable[str] = ()) -> None:
    """Refresh the maps after an extension appended to :data:`all_samplers`, and the hidden set (setting
    ``hide_samplers``)."""
    all_samplers_map.update({x.name: x for x in all_samplers})
    samplers_hidden.clear()
    samplers_hidden.update(hide_samplers)
    samplers_map.clear()
    for sampler in all_samplers:
        samplers_map[sampler.name.lower()] = sampler.name
        for alias in sampler.aliases:
            samplers_map[alias.lower()] = sampler.name


set_samplers()


def visible_sampler_names() -> list[str]:
    """Sampler names for the UI dropdowns (without ``hide_samplers``)."""
    return [x.name for x in samplers if x.name not in samplers_hidden]


def find_sampler_config(name: str | None) -> SamplerData | None:
    """The sampler called ``name`` (exact name, then any name or alias ignoring case); the first (default) sampler
    for None; None for an unknown name."""
    if name is None:
        return all_samplers[0]
    config = all_samplers_map.get(name)
    if config is None:
        canonical = samplers_map.get(name.lower())
        config = all_samplers_map.get(canonical) if canonical is not None else None
    return config


def create_sampler(name: str | SamplerDataTuple | None, model: Any, env: Any = None) -> Any:
    """A new sampler object for ``name`` (a sampler name or alias, or the :class:`SamplerData` itself) on ``model``
    (an LDM-contract model), with injected services ``env``."""
    config = name if isinstance(name, SamplerDataTuple) else find_sampler_config(name)
    if config is None:
        raise ValueError(f"bad sampler name: {name}")
    if getattr(model, "is_sdxl", False) and config.options.get("no_sdxl", False):
        raise ValueError(f"Sampler {config.name} is not supported for SDXL")
    kind = getattr(config.constructor, "kind", "k-diffusion")
    if getattr(model, "flow_shift", None) is not None and kind != "k-diffusion":
        # DDIM/PLMS/UniPC/LCM step on a DDPM schedule; a flow model (SD3) has only sigmas
        family = "Flux" if getattr(model, "is_flux", False) else "SD3"
        raise SamplerNotSupportedError(f"Sampler {config.name} is not supported for {family}; "
                                       "use a k-diffusion sampler such as Euler")
    constructor = config.constructor
    sampler = constructor(model, env) if isinstance(constructor, SamplerConstructor) else constructor(model)
    sampler.config = config
    return sampler


def split_sampler_and_scheduler(sampler_name: str | None, scheduler_name: str | None) -> tuple[str | None, str]:
    """(sampler name or None when unknown, schedule label) from request fields, splitting legacy combined names
    such as ``DPM++ 2M Karras`` into ``DPM++ 2M`` + ``Karras`` (an explicit ``scheduler`` loses to the suffix)."""
    found_scheduler = find_scheduler(scheduler_name) or schedulers[0]
    name = sampler_name or all_samplers[0].name
    config = find_sampler_config(name)
    if config is None:
        for scheduler in schedulers:
            for option in [scheduler.label, *(scheduler.aliases or [])]:
                if name.lower().endswith(" " + option.lower()):
                    candidate = find_sampler_config(name[:-len(option) - 1])
                    if candidate is not None:
                        config, found_scheduler = candidate, scheduler
                        break
            if config is not None:
                break
    return (config.name if config is not None else None), found_scheduler.label


def get_sampler_and_scheduler(sampler_name: str | None, scheduler_name: str | None, *,
                              convert_automatic: bool = True) -> tuple[str, str]:
    """A1111's resolution: unknown names fall back to the first sampler; with ``convert_automatic`` a schedule equal
    to the sampler's default becomes ``Automatic``."""
    name, label = split_sampler_and_scheduler(sampler_name, scheduler_name)
    sampler = all_samplers_map.get(name) if name is not None else None
    sampler = sampler or all_samplers[0]
    scheduler = schedulers_map.get(label, schedulers[0])
    if convert_automatic and sampler.options.get("scheduler", None) == scheduler.name:
        scheduler = schedulers[0]
    return sampler.name, scheduler.label


def fix_p_invalid_sampler_and_scheduler(p: Any) -> None:
    """Replace ``p.sampler_name`` / ``p.scheduler`` by valid values, warning when they change."""
    i_sampler_name, i_scheduler = p.sampler_name, p.scheduler
    p.sampler_name, p.scheduler = get_sampler_and_scheduler(p.sampler_name, p.scheduler, convert_automatic=False)
    if p.sampler_name != i_sampler_name or i_scheduler != p.scheduler:
        log.warning('Sampler Scheduler autocorrection: "%s" -> "%s", "%s" -> "%s"', i_sampler_name, p.sampler_name,
                    i_scheduler, p.scheduler)


def get_sampler_from_infotext(d: dict) -> str:
    return get_sampler_and_scheduler(d.get("Sampler"), d.get("Schedule type"))[0]


def get_scheduler_from_infotext(d: dict) -> str:
    return get_sampler_and_scheduler(d.get("Sampler"), d.get("Schedule type"))[1]


def get_hr_sampler_and_scheduler(d: dict) -> tuple[str, str]:
    """The hires pass's sampler and schedule from infotext, as ``Use same sampler`` / ``Use same scheduler`` when
    they equal the first pass's."""
    hr_sampler = d.get("Hires sampler", "Use same sampler")
    sampler = d.get("Sampler") if hr_sampler == "Use same sampler" else hr_sampler
    sampler, scheduler = get_sampler_and_scheduler(sampler, d.get("Hires schedule type"))
    sampler = sampler if sampler != d.get("Sampler") else "Use same sampler"
    scheduler = scheduler if scheduler != d.get("Schedule type") else "Use same scheduler"
    return sampler, scheduler


def get_hr_sampler_from_infotext(d: dict) -> str:
    return get_hr_sampler_and_scheduler(d)[0]


def get_hr_scheduler_from_infotext(d: dict) -> str:
    return get_hr_sampler_and_scheduler(d)[1]


def samplers_api_list() -> list[dict[str, Any]]:
    """The body of ``GET /sdapi/v1/samplers`` (option values as strings, as A1111's response model makes them)."""
    return [{"name": s.name, "aliases": list(s.aliases), "options": {k: str(v) for k, v in s.options.items()}}
            for s in all_samplers]
