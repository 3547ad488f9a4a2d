"""img2img's Batch tab: one job over many pictures, uploaded or from a folder (SPEC 7.5).

Runs inside the job (the worker thread holds the queue); ``make_p(image, mask)``
builds a fresh processing object for each picture with the tab's values.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from PIL import Image

from modules.core.services import current_services
from modules.processing.extras_run import list_image_files
from modules.processing.image_saving_info import read_info_from_image
from modules.ui.img2img_images import fix_image, scaled_size
from modules.ui.infotext import parse_generation_parameters

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
PNG_INFO_PROPS = ["Prompt", "Negative prompt", "Seed", "CFG scale", "Sampler", "Steps", "Model hash"]


def list_images(folder: str) -> list[str]:
    """Picture files of ``folder`` (natural order, hidden files left out)."""
    return [f for f in list_image_files(folder) if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS]


def _mask_for(image_path: str, masks: list[str]) -> str | None:
    if len(masks) == 1:
        return masks[0]
    stem = os.path.splitext(os.path.basename(image_path))[0]
    return next((m for m in masks if os.path.splitext(os.path.basename(m))[0] == stem), None)


def _png_info_overrides(image: Image.Image, image_path: str, png_info_dir: str, props: list[str]) -> dict[str, Any]:
    """Fields taken from the picture's (or its twin's in ``png_info_dir``) infotext."""
    source = image
    if png_info_dir:
        twin = os.path.join(png_info_dir, os.path.basename(image_path))
        if not os.path.isfile(twin):
            return {}
        source = Image.open(twin)
    text, _ = read_info_from_image(source)
    if not text:
        return {}
    params = parse_generation_parameters(text)
    found: dict[str, Any] = {}
    if "Prompt" in props and params.get("Prompt"):
        found["prompt_suffix"] = params["Prompt"]
    if "Negative prompt" in props and params.get("Negative prompt"):
        found["negative_suffix"] = params["Negative prompt"]
    for label, name, cast in (("Seed", "seed", int), ("CFG scale", "cfg_scale", float), ("Steps", "steps", int),
                              ("Sampler", "sampler_name", str)):
        if label in props and label in params:
            try:
                found[name] = cast(params[label])
            except (TypeError, ValueError):
                pass
    if "Model hash" in props and params.get("Model hash"):
        found["model_hash"] = params["Model hash"]
    return found


def run_batch(make_p: Callable[[Image.Image, Image.Image | None], Any], run_one: Callable[[Any], Any],
              inputs: list[str], output_dir: str, mask_dir: str, use_png_info: bool, png_info_props: list[str],
              png_info_dir: str, scale_by: float | None) -> tuple[list[Image.Image], Any]:
    """Process every picture of ``inputs``; returns (pictures to show, the last ``Processed``)."""
    services = current_services()
    state = services.state
    masks = list_images(mask_dir) if mask_dir else []
    limit = int(getattr(services.opts, "img2img_batch_show_results_limit", 32))
    shown: list[Image.Image] = []
    last = None
    if state is not None:
        state.job_count = len(inputs)
    for i, path in enumerate(inputs):
        if state is not None:
            state.job = f"{i + 1} out of {len(inputs)}"
            if state.skipped:
                state.skipped = False
            if state.interrupted or state.stopping_generation:
                break
        try:
            image = fix_image(Image.open(path))
        except OSError:
            continue  # not a picture: skipped, as A1111
        mask = None
        if mask_dir:
            mask_path = _mask_for(path, masks)
            if mask_path is None:
                continue
            mask = Image.open(mask_path)
        p = make_p(image, mask)
        if scale_by is not None:
            p.width, p.height = scaled_size(image, scale_by)
        if use_png_info:
            _apply_png_info(p, _png_info_overrides(image, path, png_info_dir, png_info_props))
        if output_dir:
            _name_outputs_after(p, path, output_dir)
        last = run_one(p)
        if last is not None and (limit < 0 or len(shown) < limit):
            shown.extend(last.images[:None if limit < 0 else max(limit - len(shown), 0)])
    return shown, last


def _apply_png_info(p: Any, found: dict[str, Any]) -> None:
    if "prompt_suffix" in found:
        p.prompt = f"{p.prompt} {found['prompt_suffix']}".strip()
    if "negative_suffix" in found:
        p.negative_prompt = f"{p.negative_prompt} {found['negative_suffix']}".strip()
    for name in ("seed", "cfg_scale", "steps", "sampler_name"):
        if name in found:
            setattr(p, name, found[name])
    if "model_hash" in found:
        p.override_settings["sd_model_checkpoint"] = found["model_hash"]


def _name_outputs_after(p: Any, path: str, output_dir: str) -> None:
    """Output folder given: files named after the input, no sub-folders, numbered on a clash."""
    stem = os.path.splitext(os.path.basename(path))[0]
    several = p.n_iter > 1 or p.batch_size > 1
    p.outpath_samples = output_dir
    p.override_settings["save_to_dirs"] = False
    p.override_settings["save_images_replace_action"] = "Add number suffix"
    p.override_settings["samples_filename_pattern"] = f"{stem}-[generation_number]" if several else stem
