"""The X/Y/Z plot's axis types: how each value is parsed, applied to a job, checked and labelled.

Labels and order are A1111's (they are written into infotexts as ``X Type`` and
pasted back), so extensions that append to :data:`axis_options` keep working.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import permutations
from typing import Any, Callable

from modules.builtin_scripts.value_ranges import split_csv
from modules.core.services import Services, current_services
from modules.postprocess.upscaler_registry import LATENT_UPSCALE_MODES
from modules.processing.errors import GenerationError
from modules.sampling import registry as sampler_registry
from modules.sampling.schedulers import schedulers, schedulers_map


@dataclass
class AxisOption:
    """One axis type. ``is_img2img`` None: both tabs; True/False: only img2img / only txt2img."""

    label: str
    type: Callable[[Any], Any] | None
    apply: Callable[[Any, Any, list], None]
    format_value: Callable[["AxisOption", Any], str] | None = None
    confirm: Callable[[Any, list], None] | None = None
    cost: float = 0.0
    """Higher cost axes are iterated outermost, so slow changes (checkpoints) happen least often."""
    choices: Callable[[], list[str]] | None = None
    prepare: Callable[[str], list] | None = None
    is_img2img: bool | None = None

    def __post_init__(self) -> None:
        if self.format_value is None:
            self.format_value = format_value_add_label


def AxisOptionImg2Img(*args: Any, **kwargs: Any) -> AxisOption:
    """An axis shown only on the img2img tab (A1111 name)."""
    return AxisOption(*args, is_img2img=True, **kwargs)


def AxisOptionTxt2Img(*args: Any, **kwargs: Any) -> AxisOption:
    """An axis shown only on the txt2img tab (A1111 name)."""
    return AxisOption(*args, is_img2img=False, **kwargs)


# --- formatting ---

def format_value_add_label(opt: AxisOption, x: Any) -> str:
    """``Steps: 20`` (floats rounded to 8 digits, as A1111 writes them)."""
    if isinstance(x, float):
        x = round(x, 8)
    return f"{opt.label}: {x}"


def format_value(opt: AxisOption, x: Any) -> str:
    """The value alone (samplers, prompt S/R)."""
    return str(x)


def format_value_join_list(opt: AxisOption, x: Any) -> str:
    """Prompt order permutations: the fragments joined by ``, ``."""
    return ", ".join(x)


def format_remove_path(opt: AxisOption, x: Any) -> str:
    """Checkpoint names without their folder."""
    return os.path.basename(str(x))


def format_nothing(opt: AxisOption, x: Any) -> str:
    return ""


def str_permutations(x: Any) -> Any:
    """Prompt order values are already lists of fragments; used as the axis ``type``."""
    return x


def boolean_choice(reverse: bool = False) -> Callable[[], list[str]]:
    return lambda: ["False", "True"] if reverse else ["True", "False"]


def str_to_bool(text: Any) -> bool:
    return str(text).strip().lower() == "true"


# --- applying ---

def apply_field(field: str) -> Callable[[Any, Any, list], None]:
    """Set ``p.<field>`` to the value."""
    def fun(p: Any, x: Any, xs: list) -> None:
        setattr(p, field, x)
    return fun


def apply_override(field: str, boolean: bool = False) -> Callable[[Any, Any, list], None]:
    """Put the value into ``p.override_settings[field]`` (settings-backed axes)."""
    def fun(p: Any, x: Any, xs: list) -> None:
        p.override_settings[field] = str_to_bool(x) if boolean else x
    return fun


def do_nothing(p: Any, x: Any, xs: list) -> None:
    pass


def apply_prompt(p: Any, x: str, xs: list) -> None:
    """Prompt S/R: replace the first value (the search text) by ``x`` in both prompts."""
    if xs[0] not in p.prompt and xs[0] not in p.negative_prompt:
        raise GenerationError(f"Prompt S/R did not find {xs[0]} in prompt or negative prompt.")
    p.prompt = p.prompt.replace(xs[0], x)
    p.negative_prompt = p.negative_prompt.replace(xs[0], x)


def apply_order(p: Any, x: list[str], xs: list) -> None:
    """Prompt order: put the listed fragments into the prompt in the order of ``x``."""
    positions = sorted((p.prompt.find(token), token) for token in x)
    prompt_parts = []
    rest = p.prompt
    for _, token in positions:
        index = rest.find(token)
        prompt_parts.append(rest[:index])
        rest = rest[index + len(token):]
    prompt_parts.append(rest)
    result = prompt_parts[0]
    for i, token in enumerate(x):
        result += token + prompt_parts[i + 1]
    p.prompt = result


def _services(p: Any) -> Services:
    return getattr(p, "services", None) or current_services()


def _sampler_name(x: str) -> str | None:
    config = sampler_registry.find_sampler_config(x)
    return config.name if config is not None else None


def apply_sampler(p: Any, x: str, xs: list) -> None:
    name = _sampler_name(x)
    if name is None:
        raise GenerationError(f"Unknown sampler: {x}")
    p.sampler_name = name


def apply_hr_sampler(p: Any, x: str, xs: list) -> None:
    name = _sampler_name(x)
    if name is None:
        raise GenerationError(f"Unknown sampler: {x}")
    p.hr_sampler_name = name


def confirm_samplers(p: Any, xs: list) -> None:
    for x in xs:
        if _sampler_name(x) is None:
            raise GenerationError(f"Unknown sampler: {x}")


def _checkpoint(p: Any, name: str) -> Any:
    checkpoints = _services(p).checkpoints
    info = checkpoints.get_closest_match(name) if checkpoints is not None else None
    if info is None:
        raise GenerationError(f"Unknown checkpoint: {name}")
    return info


def apply_checkpoint(p: Any, x: str, xs: list) -> None:
    p.override_settings["sd_model_checkpoint"] = _checkpoint(p, x).name


def confirm_checkpoints(p: Any, xs: list) -> None:
    for x in xs:
        _checkpoint(p, x)


def confirm_checkpoints_or_none(p: Any, xs: list) -> None:
    for x in xs:
        if x not in (None, "", "None"):
            _checkpoint(p, x)


def apply_refiner(p: Any, x: str, xs: list) -> None:
    p.refiner_checkpoint = None if x in (None, "", "None") else _checkpoint(p, x).name


def apply_clip_skip(p: Any, x: int, xs: list) -> None:
    p.override_settings["CLIP_stop_at_last_layers"] = x


def apply_upscale_latent_space(p: Any, x: str, xs: list) -> None:
    p.override_settings["use_scale_latent_for_hires_fix"] = x != "0"


def apply_size(p: Any, x: str, xs: list) -> None:
    """``Size``: ``WxH``."""
    try:
        width, _, height = x.partition("x")
        p.width, p.height = int(width.strip()), int(height.strip())
    except ValueError as e:
        raise GenerationError(f"Invalid size in XYZ plot: {x}") from e


def _vae_choices(services: Services | None = None) -> list[str]:
    vae_files = (services or current_services()).vae_files
    names = sorted(getattr(vae_files, "vae_dict", {}) or {}) if vae_files is not None else []
    return ["Automatic", "None", *names]


def apply_vae(p: Any, x: str, xs: list) -> None:
    p.override_settings["sd_vae"] = x.strip()


def confirm_vae(p: Any, xs: list) -> None:
    known = {name.lower() for name in _vae_choices(_services(p))}
    for x in xs:
        if x.strip().lower() not in known:
            raise GenerationError(f"Unknown VAE: {x}")


def apply_styles(p: Any, x: str, xs: list) -> None:
    p.styles.extend(s.strip() for s in x.split(",") if s.strip())


def apply_face_restore(p: Any, opt: str, xs: list) -> None:
    """``Face restore``: ``true``/``false`` or a face restoration model's name."""
    text = str(opt).strip().lower()
    if text == "false":
        p.restore_faces = False
        return
    p.restore_faces = True
    if text not in ("true", ""):
        p.override_settings["face_restoration_model"] = opt


def _upscaler_names(services: Services | None = None) -> list[str]:
    upscalers = (services or current_services()).sd_upscalers
    return [*LATENT_UPSCALE_MODES, *(x.name for x in (upscalers or []))]


def confirm_upscalers(p: Any, xs: list) -> None:
    known = set(_upscaler_names(_services(p)))
    for x in xs:
        if x not in known:
            raise GenerationError(f"Unknown upscaler: {x}")


def _scheduler_labels() -> list[str]:
    return [x.label for x in schedulers]


def confirm_schedulers(p: Any, xs: list) -> None:
    for x in xs:
        if x not in schedulers_map:
            raise GenerationError(f"Unknown scheduler: {x}")


def apply_scheduler(p: Any, x: str, xs: list) -> None:
    p.scheduler = schedulers_map[x].label if x in schedulers_map else x


def _sampler_choices(img2img: bool) -> Callable[[], list[str]]:
    def choices() -> list[str]:
        return [x.name for x in (sampler_registry.samplers_for_img2img if img2img else sampler_registry.samplers)]
    return choices


def _checkpoint_choices() -> list[str]:
    checkpoints = current_services().checkpoints
    return sorted(checkpoints.titles(), key=str.casefold) if checkpoints is not None else []


def _style_choices() -> list[str]:
    prompt_styles = current_services().prompt_styles
    styles = getattr(prompt_styles, "styles", {}) if prompt_styles is not None else {}
    return list(styles)


def _face_restorer_choices() -> list[str]:
    return ["False", "True", *(x.name() for x in (current_services().face_restorers or []))]


def _order_prepare(text: str) -> list:
    return [list(x) for x in permutations(split_csv(text))]


def _rng_choices() -> list[str]:
    return ["GPU", "CPU", "NV"]


axis_options: list[AxisOption] = [
    AxisOption("Nothing", lambda x: 0, do_nothing, format_value=format_nothing),
    AxisOption("Seed", int, apply_field("seed")),
    AxisOption("Var. seed", int, apply_field("subseed")),
    AxisOption("Var. strength", float, apply_field("subseed_strength")),
    AxisOption("Steps", int, apply_field("steps")),
    AxisOptionTxt2Img("Hires steps", int, apply_field("hr_second_pass_steps")),
    AxisOption("CFG Scale", float, apply_field("cfg_scale")),
    AxisOptionImg2Img("Image CFG Scale", float, apply_field("image_cfg_scale")),
    AxisOption("Prompt S/R", str, apply_prompt, format_value=format_value),
    AxisOption("Prompt order", str_permutations, apply_order, format_value=format_value_join_list,
               prepare=_order_prepare),
    AxisOptionTxt2Img("Sampler", str, apply_sampler, format_value=format_value, confirm=confirm_samplers,
                      choices=_sampler_choices(False)),
    AxisOptionTxt2Img("Hires sampler", str, apply_hr_sampler, format_value=format_value, confirm=confirm_samplers,
                      choices=_sampler_choices(True)),
    AxisOptionImg2Img("Sampler", str, apply_sampler, format_value=format_value, confirm=confirm_samplers,
                      choices=_sampler_choices(True)),
    AxisOption("Checkpoint name", str, apply_checkpoint, format_value=format_remove_path, confirm=confirm_checkpoints,
               cost=1.0, choices=_checkpoint_choices),
    AxisOption("Negative Guidance minimum sigma", float, apply_field("s_min_uncond")),
    AxisOption("Sigma Churn", float, apply_field("s_churn")),
    AxisOption("Sigma min", float, apply_field("s_tmin")),
    AxisOption("Sigma max", float, apply_field("s_tmax")),
    AxisOption("Sigma noise", float, apply_field("s_noise")),
    AxisOption("Schedule type", str, apply_scheduler, confirm=confirm_schedulers, choices=_scheduler_labels),
    AxisOption("Schedule min sigma", float, apply_override("sigma_min")),
    AxisOption("Schedule max sigma", float, apply_override("sigma_max")),
    AxisOption("Schedule rho", float, apply_override("rho")),
    AxisOption("Beta schedule alpha", float, apply_override("beta_dist_alpha")),
    AxisOption("Beta schedule beta", float, apply_override("beta_dist_beta")),
    AxisOption("Eta", float, apply_field("eta")),
    AxisOption("Clip skip", int, apply_clip_skip),
    AxisOption("Denoising", float, apply_field("denoising_strength")),
    AxisOption("Initial noise multiplier", float, apply_field("initial_noise_multiplier")),
    AxisOption("Extra noise", float, apply_override("img2img_extra_noise")),
    AxisOptionTxt2Img("Hires upscaler", str, apply_field("hr_upscaler"), confirm=confirm_upscalers,
                      choices=_upscaler_names),
    AxisOptionImg2Img("Cond. Image Mask Weight", float, apply_override("inpainting_mask_weight")),
    AxisOption("VAE", str, apply_vae, confirm=confirm_vae, cost=0.7, choices=_vae_choices),
    AxisOption("Styles", str, apply_styles, choices=_style_choices),
    AxisOption("UniPC Order", int, apply_override("uni_pc_order"), cost=0.5),
    AxisOption("Face restore", str, apply_face_restore, format_value=format_value, choices=_face_restorer_choices),
    AxisOption("Token merging ratio", float, apply_override("token_merging_ratio")),
    AxisOption("Token merging ratio high-res", float, apply_override("token_merging_ratio_hr")),
    AxisOption("Always discard next-to-last sigma", str, apply_override("always_discard_next_to_last_sigma", boolean=True),
               choices=boolean_choice(reverse=True)),
    AxisOption("SGM noise multiplier", str, apply_override("sgm_noise_multiplier", boolean=True),
               choices=boolean_choice(reverse=True)),
    AxisOption("Refiner checkpoint", str, apply_refiner, format_value=format_remove_path,
               confirm=confirm_checkpoints_or_none, cost=1.0, choices=lambda: ["None", *_checkpoint_choices()]),
    AxisOption("Refiner switch at", float, apply_field("refiner_switch_at")),
    AxisOption("RNG source", str, apply_override("randn_source"), choices=_rng_choices),
    AxisOption("FP8 mode", str, apply_override("fp8_storage"), cost=0.9,
               choices=lambda: ["Disable", "Enable for SDXL", "Enable"]),
    AxisOption("Size", str, apply_size),
]
"""Every axis type, in A1111's order (extensions append their own)."""


def options_for_tab(is_img2img: bool) -> list[AxisOption]:
    """The axis types of one tab; the type dropdowns index into this list."""
    return [x for x in axis_options if x.is_img2img is None or x.is_img2img == is_img2img]
