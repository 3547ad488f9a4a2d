"""What both trainings do before and after the loop: inputs, model checks, folders, the dataset, settings file."""
from __future__ import annotations

import datetime
import os
import random
from typing import Any

from modules.core.services import Services
from modules.processing.conditioning_images import txt2img_conditioning
from modules.training.dataset import LATENT_SAMPLING_METHODS, PersonalizedBase
from modules.training.learn_rate import parse_schedule
from modules.training.logs import save_settings_to_file
from modules.training.previews import PreviewSettings
from modules.training.run import CLIP_GRAD_MODES, TrainingInputs
from modules.training.templates import list_templates, read_template_lines
from modules.training.validation import TrainingError, validate_train_inputs


def as_int(value: Any, what: str) -> int:
    """The page's numbers arrive as floats, the API's as anything: whole numbers only."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TrainingError(f"{what} must be integer") from None
    if number != int(number):
        raise TrainingError(f"{what} must be integer")
    return int(number)


def conditioning_for(model: Any, x: Any, c: Any) -> Any:
    """The cond of a training batch: the text conditioning, with the whole-picture-masked image conditioning that
    txt2img gives inpainting models (and the empty picture of InstructPix2Pix) where the model needs one."""
    image_cond = txt2img_conditioning(model, x, x.shape[3] * 8, x.shape[2] * 8)
    return {"c_concat": [image_cond], "c_crossattn": [c]} if image_cond is not None else c


def trainable_model(services: Services) -> Any:
    """The loaded model, if it is one training supports (SD1/SD2 families, as A1111)."""
    model = services.sd_model
    if model is None:
        raise TrainingError("No model is loaded: put a checkpoint into models/Stable-diffusion")
    if getattr(model, "cond_stage_model", None) is None:
        raise TrainingError(f"Training is supported for SD1 and SD2 models; the loaded model "
                            f"({type(model).__name__}) has no single text encoder")
    return model


def preview_settings(preview_from_txt2img: bool, prompt: str, negative_prompt: str, steps: Any, sampler_name: str,
                     cfg_scale: Any, seed: Any, width: Any, height: Any) -> PreviewSettings | None:
    if not preview_from_txt2img:
        return None
    return PreviewSettings(prompt=prompt or "", negative_prompt=negative_prompt or "",
                           steps=as_int(steps, "Preview steps"), sampler_name=sampler_name or "Euler a",
                           cfg_scale=float(cfg_scale), seed=as_int(seed, "Preview seed"),
                           width=as_int(width, "Preview width"), height=as_int(height, "Preview height"))


def training_inputs(services: Services, what: str, name: str, learn_rate: Any, batch_size: Any, gradient_step: Any,
                    data_root: str, log_directory: str, training_width: Any, training_height: Any, varsize: bool,
                    steps: Any, clip_grad_mode: str, clip_grad_value: Any, shuffle_tags: bool, tag_drop_out: Any,
                    latent_sampling_method: str, use_weight: bool, create_image_every: Any, save_every: Any,
                    template_filename: str, preview: PreviewSettings | None) -> tuple[TrainingInputs, str]:
    """Checked inputs and the template's path (raises :class:`TrainingError` with A1111's messages)."""
    save_every = as_int(save_every or 0, f"Save {what}")
    create_image_every = as_int(create_image_every or 0, "Create image")
    batch_size = as_int(batch_size, "Batch size")
    gradient_step = as_int(gradient_step, "Gradient accumulation step")
    steps = as_int(steps, "Max steps") if steps else 0
    template = list_templates(services.cmd_opts.textual_inversion_templates_dir).get(template_filename)
    validate_train_inputs(name, learn_rate, batch_size, gradient_step, data_root, template, template_filename, steps,
                          save_every, create_image_every, log_directory, name=what)
    assert template is not None  # validated above
    parse_schedule(learn_rate, steps)
    if clip_grad_mode not in CLIP_GRAD_MODES:
        raise TrainingError(f"Gradient Clipping must be one of {', '.join(CLIP_GRAD_MODES)}, got {clip_grad_mode!r}")
    if clip_grad_mode != "disabled":
        parse_schedule(clip_grad_value, steps)
    if latent_sampling_method not in LATENT_SAMPLING_METHODS:
        raise TrainingError(f"Unknown latent sampling method {latent_sampling_method!r}; "
                            f"one of {', '.join(LATENT_SAMPLING_METHODS)}")
    width, height = as_int(training_width, "Width"), as_int(training_height, "Height")
    if width % 8 or height % 8 or width <= 0 or height <= 0:
        raise TrainingError(f"Width and height must be positive multiples of 8, got {width}x{height}")
    inputs = TrainingInputs(learn_rate=str(learn_rate), batch_size=batch_size, gradient_step=gradient_step,
                            data_root=data_root, log_directory=log_directory, training_width=width,
                            training_height=height, varsize=bool(varsize), steps=steps,
                            clip_grad_mode=clip_grad_mode, clip_grad_value=str(clip_grad_value),
                            shuffle_tags=bool(shuffle_tags), tag_drop_out=float(tag_drop_out or 0),
                            latent_sampling_method=latent_sampling_method, use_weight=bool(use_weight),
                            create_image_every=create_image_every, save_every=save_every, preview=preview)
    return inputs, template.path


def log_directory_for(services: Services, log_directory: str, name: str) -> str:
    """``<log dir>/<YYYY-MM-DD>/<name>``; a relative log dir is under the data dir (A1111: the web UI folder)."""
    if not os.path.isabs(log_directory):
        log_directory = os.path.join(services.paths.data_dir, log_directory)
    return os.path.join(log_directory, datetime.datetime.now().strftime("%Y-%m-%d"), name)


def build_dataset(services: Services, model: Any, inputs: TrainingInputs, template_path: str, placeholder: str,
                  include_cond: bool, rng: random.Random) -> PersonalizedBase:
    opts, state = services.opts, services.state
    state.textinfo = f"Preparing dataset from {inputs.data_root}..."
    return PersonalizedBase(
        data_root=inputs.data_root, width=inputs.training_width, height=inputs.training_height,
        repeats=opts.training_image_repeats_per_epoch, placeholder_token=placeholder, model=model,
        template_lines=read_template_lines(template_path), device=model.device,
        cond_model=model.get_learned_conditioning, include_cond=include_cond, batch_size=inputs.batch_size,
        gradient_step=inputs.gradient_step, shuffle_tags=inputs.shuffle_tags, tag_drop_out=inputs.tag_drop_out,
        latent_sampling_method=inputs.latent_sampling_method, varsize=inputs.varsize, use_weight=inputs.use_weight,
        word_regex=opts.dataset_filename_word_regex, join_string=opts.dataset_filename_join_string,
        interrupted=lambda: bool(state.interrupted), rng=rng)


def checkpoint_identity(model: Any) -> tuple[str | None, str | None]:
    """``(short hash, model name)`` of the loaded checkpoint, written into the trained files."""
    info = getattr(model, "sd_checkpoint_info", None)
    if info is None:
        return None, None
    shorthash = info.shorthash or info.calculate_shorthash()
    return shorthash, info.model_name


def write_settings(services: Services, log_directory: str, model: Any, dataset: PersonalizedBase,
                   values: dict[str, Any]) -> None:
    if not services.opts.save_training_settings_to_txt:
        return
    shorthash, model_name = checkpoint_identity(model)
    save_settings_to_file(log_directory, {"model_name": model_name, "model_hash": shorthash,
                                          "num_of_dataset_images": len(dataset), **values})
