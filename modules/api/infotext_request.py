"""The ``infotext`` field of txt2img/img2img requests: fill unset fields from a picture's parameters.

The infotext is parsed as the paste button parses it
(:func:`modules.processing.infotext_parse.parse_generation_parameters`); every field the paste
button would set and the request did not set explicitly takes the pasted value; settings the
infotext implies (``Clip skip: 2``...) join ``override_settings`` unless already there; script
arguments the scripts' paste fields name are returned by index.

The tables are A1111 1.10's paste fields of the two tabs, including the built-in Sampler,
Seed and Refiner scripts' (with A1111's swapped ``Seed resize from`` API names).  A value of
the wrong kind is a 422 naming the infotext label, where A1111 answers 500.
"""
from __future__ import annotations

import typing
from typing import Any, Callable

from modules.api.errors import ApiError
from modules.core.services import current_services
from modules.processing.infotext_overrides import get_override_settings
from modules.processing.infotext_parse import parse_generation_parameters
from modules.sampling import registry as samplers

Source = str | Callable[[dict], Any]

MASK_MODES = ("Inpaint masked", "Inpaint not masked")
MASKED_CONTENT = ("fill", "original", "latent noise", "latent nothing")
INPAINT_AREAS = ("Whole picture", "Only masked")


def _sampler(d: dict) -> Any:
    return samplers.get_sampler_from_infotext(d)


def _scheduler(d: dict) -> Any:
    return samplers.get_scheduler_from_infotext(d)


def _hr_sampler(d: dict) -> Any:
    return samplers.get_hr_sampler_from_infotext(d)


def _hr_scheduler(d: dict) -> Any:
    return samplers.get_hr_scheduler_from_infotext(d)


def _styles(d: dict) -> Any:
    styles = d.get("Styles array")
    return styles if isinstance(styles, list) else None


def _enable_hr(d: dict) -> bool:
    return "Denoising strength" in d and ("Hires upscale" in d or "Hires upscaler" in d or "Hires resize-1" in d)


def _refiner(d: dict) -> Any:
    name = d.get("Refiner")
    if name is None:
        return None
    checkpoints = current_services().checkpoints
    info = checkpoints.get_closest_match(name) if checkpoints is not None else None
    return info.title if info is not None else name


def _choice(label: str, choices: tuple[str, ...]) -> Callable[[dict], Any]:
    def pick(d: dict) -> Any:
        value = d.get(label)
        if value is None:
            return None
        if value not in choices:
            raise ApiError(422, f"infotext: {label} must be one of {', '.join(choices)}, got {value!r}", key="infotext")
        return choices.index(value)

    return pick


COMMON: list[tuple[str, Source]] = [
    ("prompt", "Prompt"),
    ("negative_prompt", "Negative prompt"),
    ("steps", "Steps"),
    ("sampler_name", _sampler),
    ("scheduler", _scheduler),
    ("cfg_scale", "CFG scale"),
    ("distilled_cfg_scale", "Distilled CFG Scale"),
    ("seed", "Seed"),
    ("subseed", "Variation seed"),
    ("subseed_strength", "Variation seed strength"),
    # A1111's seed script gives these two each other's API names; pasting reproduces it
    ("seed_resize_from_h", "Seed resize from-1"),
    ("seed_resize_from_w", "Seed resize from-2"),
    ("width", "Size-1"),
    ("height", "Size-2"),
    ("batch_size", "Batch size"),
    ("styles", _styles),
    ("denoising_strength", "Denoising strength"),
    ("refiner_checkpoint", _refiner),
    ("refiner_switch_at", "Refiner switch at"),
]

TXT2IMG: list[tuple[str, Source]] = COMMON + [
    ("enable_hr", _enable_hr),
    ("hr_scale", "Hires upscale"),
    ("hr_upscaler", "Hires upscaler"),
    ("hr_second_pass_steps", "Hires steps"),
    ("hr_resize_x", "Hires resize-1"),
    ("hr_resize_y", "Hires resize-2"),
    ("hr_checkpoint_name", "Hires checkpoint"),
    ("hr_sampler_name", _hr_sampler),
    ("hr_scheduler", _hr_scheduler),
    ("hr_prompt", "Hires prompt"),
    ("hr_negative_prompt", "Hires negative prompt"),
]

IMG2IMG: list[tuple[str, Source]] = COMMON + [
    ("image_cfg_scale", "Image CFG scale"),
    ("mask_blur", "Mask blur"),
    ("inpainting_mask_invert", _choice("Mask mode", MASK_MODES)),
    ("inpainting_fill", _choice("Masked content", MASKED_CONTENT)),
    ("inpaint_full_res", _choice("Inpaint area", INPAINT_AREAS)),
    ("inpaint_full_res_padding", "Masked area padding"),
]

FIELDS = {"txt2img": TXT2IMG, "img2img": IMG2IMG}


def _field_kind(model: type, name: str) -> type | None:
    """The plain type of a request field (``Optional[int]`` -> int)."""
    annotation = model.model_fields[name].annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = args[0] if args else annotation
    return typing.get_origin(base) or base


def convert(value: Any, kind: type | None, label: str) -> Any:
    """``value`` (usually the string written in the infotext) as a request field of type ``kind``."""
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "1")
            return bool(value)
        if kind is int:
            return int(value) if isinstance(value, int) else int(float(value))
        if kind is float:
            return float(value)
        if kind is str:
            return str(value)
        if kind is list and not isinstance(value, list):
            raise ValueError(value)
    except (TypeError, ValueError) as e:
        raise ApiError(422, f"infotext: {label} value {value!r} is not a valid {getattr(kind, '__name__', kind)}",
                       key="infotext") from e
    return value


def apply_infotext(request: Any, tabname: str, runner: Any = None) -> dict[int, Any]:
    """Fill ``request`` from its ``infotext`` (in place); returns script arguments by index."""
    text = getattr(request, "infotext", None)
    if not text:
        return {}
    services = current_services()
    params = parse_generation_parameters(text, settings=services.opts, styles=services.prompt_styles)
    explicit = set(request.model_fields_set)
    model = type(request)
    for api_name, source in FIELDS[tabname]:
        if api_name in explicit or api_name not in model.model_fields:
            continue
        value = source(params) if callable(source) else params.get(source)
        if value is None:
            continue
        label = source if isinstance(source, str) else api_name
        setattr(request, api_name, convert(value, _field_kind(model, api_name), label))

    if request.override_settings is None:
        request.override_settings = {}
    for _label, setting, value in get_override_settings(params, settings=services.opts):
        request.override_settings.setdefault(setting, value)
    return _script_args_from_infotext(params, runner)


def _script_args_from_infotext(params: dict, runner: Any) -> dict[int, Any]:
    """Values for the scripts' own paste fields (``(component, label or function)`` pairs)."""
    if runner is None or not getattr(runner, "scripts", None):
        return {}
    runner.ensure_args_layout()
    indexes = {id(component): i for i, component in enumerate(runner.inputs) if component is not None}
    found: dict[int, Any] = {}
    for entry in runner.infotext_fields or []:
        component = getattr(entry, "component", None) or (entry[0] if isinstance(entry, (tuple, list)) else None)
        target = getattr(entry, "target", None) or (entry[1] if isinstance(entry, (tuple, list)) else None)
        index = indexes.get(id(component))
        if index is None or target is None:
            continue
        value = target(params) if callable(target) else params.get(target)
        if isinstance(value, dict) and value.get("__type__") in ("generic_update", "update"):
            value = value.get("value")
        if value is None:
            continue
        current = getattr(component, "value", None)
        if current is not None and not isinstance(value, type(current)):
            value = convert(value, type(current), str(target if isinstance(target, str) else index))
        found[index] = value
    return found
