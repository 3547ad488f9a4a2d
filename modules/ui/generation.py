"""The Generate buttons: the tab's values -> a processing object -> the one job queue -> gallery, info, log.

The same processing classes and the same queue serve the HTTP API; only the
defaults differ (the UI's come from its controls: 20 steps, DPM++ 2M...).  The
processing object is built inside the job, when the model it will run on is
known.  Failures come back as a message in the tab's log area, never as a
traceback page.
"""
from __future__ import annotations

import json
import logging
import time
import traceback
from typing import Any, Callable

from modules import processing
from modules.core.options.store import OptionFrozenError, OptionValueError
from modules.core.services import current_services
from modules.processing.errors import GenerationError
from modules.runtime import progress
from modules.runtime.job_instruments import add_memory_line
from modules.runtime.jobs import DuplicateTaskError, JobCancelledError, job_queue, run_job
from modules.ui.components import error_html, opt, plaintext_to_html
from modules.ui.gallery_files import gallery_value, item_image
from modules.ui.generation_controls import refiner_values, seed_values
from modules.ui.img2img_images import Img2ImgInputError
from modules.ui.infotext import create_override_settings_dict, parse_generation_parameters

log = logging.getLogger(__name__)

COMMON_FIELDS = [
    "task_id", "prompt", "negative_prompt", "styles", "n_iter", "batch_size", "cfg_scale", "height", "width",
    "override_settings", "sampler_name", "scheduler", "steps", "seed", "seed_checkbox", "subseed", "subseed_strength",
    "seed_resize_from_w", "seed_resize_from_h", "refiner_enable", "refiner_checkpoint", "refiner_switch_at",
    "distilled_cfg_scale",
]
"""Named inputs of both tabs, in the order the tab passes them (the scripts' arguments follow all named ones)."""

TXT2IMG_FIELDS = COMMON_FIELDS + [
    "enable_hr", "denoising_strength", "hr_scale", "hr_upscaler", "hr_second_pass_steps", "hr_resize_x",
    "hr_resize_y", "hr_checkpoint_name", "hr_sampler_name", "hr_scheduler", "hr_prompt", "hr_negative_prompt",
]

IMG2IMG_FIELDS = COMMON_FIELDS + [
    "mode", "init_img", "sketch", "init_img_with_mask", "inpaint_color_sketch", "init_img_inpaint",
    "init_mask_inpaint", "mask_blur", "mask_alpha", "inpainting_fill", "image_cfg_scale", "denoising_strength",
    "selected_scale_tab", "scale_by", "resize_mode", "inpaint_full_res", "inpaint_full_res_padding",
    "inpainting_mask_invert", "batch_source", "batch_upload", "batch_input_dir", "batch_output_dir",
    "batch_inpaint_mask_dir", "batch_use_png_info", "batch_png_info_props", "batch_png_info_dir",
]

SAME = ("Use same checkpoint", "Use same sampler", "Use same scheduler", "", None)


def split_args(names: list[str], values: tuple) -> tuple[dict[str, Any], list]:
    """The named values and the scripts' arguments from a handler's positional arguments."""
    return dict(zip(names, values[:len(names)])), list(values[len(names):])


def common_processing_args(v: dict[str, Any]) -> dict[str, Any]:
    """Fields of :class:`StableDiffusionProcessing` from the controls both tabs have."""
    args = {
        "prompt": v["prompt"] or "",
        "negative_prompt": v["negative_prompt"] or "",
        "styles": list(v["styles"] or []),
        "n_iter": int(v["n_iter"]),
        "batch_size": int(v["batch_size"]),
        "cfg_scale": float(v["cfg_scale"]),
        "distilled_cfg_scale": float(v.get("distilled_cfg_scale", 3.5) or 3.5),
        "width": int(v["width"]),
        "height": int(v["height"]),
        "sampler_name": v["sampler_name"],
        "scheduler": v["scheduler"],
        "steps": int(v["steps"]),
        "override_settings": create_override_settings_dict(v["override_settings"] or []),
    }
    args.update(seed_values(v["seed"], v["seed_checkbox"], v["subseed"], v["subseed_strength"],
                            v["seed_resize_from_w"], v["seed_resize_from_h"]))
    args.update(refiner_values(v["refiner_enable"], v["refiner_checkpoint"], v["refiner_switch_at"]))
    return args


def txt2img_processing_args(v: dict[str, Any], *, force_enable_hr: bool = False) -> dict[str, Any]:
    """Everything :class:`StableDiffusionProcessingTxt2Img` gets from the txt2img tab."""
    enable_hr = bool(v["enable_hr"]) or force_enable_hr
    args = common_processing_args(v)
    args.update({
        "enable_hr": enable_hr,
        "denoising_strength": float(v["denoising_strength"]) if enable_hr else None,
        "hr_scale": float(v["hr_scale"]),
        "hr_upscaler": v["hr_upscaler"],
        "hr_second_pass_steps": int(v["hr_second_pass_steps"]),
        "hr_resize_x": int(v["hr_resize_x"]),
        "hr_resize_y": int(v["hr_resize_y"]),
        "hr_checkpoint_name": None if v["hr_checkpoint_name"] in SAME else v["hr_checkpoint_name"],
        "hr_sampler_name": None if v["hr_sampler_name"] in SAME else v["hr_sampler_name"],
        "hr_scheduler": None if v["hr_scheduler"] in SAME else v["hr_scheduler"],
        "hr_prompt": v["hr_prompt"] or "",
        "hr_negative_prompt": v["hr_negative_prompt"] or "",
    })
    return args


def _runner(tabname: str) -> Any:
    services = current_services()
    return services.scripts_img2img if tabname == "img2img" else services.scripts_txt2img


def run_processing(p: Any, tabname: str, script_args: list) -> Any:
    """Attach the tab's scripts, run the selected script or ``process_images``; always closes ``p``."""
    runner = _runner(tabname)
    try:
        if runner is not None and runner.scripts:
            p.scripts = runner
            p.script_args = list(script_args)
            runner.setup_scrips(p, is_ui=True)
            p.scripts_setup_complete = True
            processed = runner.run(p, *p.script_args)
        else:
            processed = None
        if processed is None:
            processed = processing.process_images(p)
    finally:
        p.close()
    return processed


def _console_prompt(tabname: str, prompt: str) -> None:
    if opt("enable_console_prompts", False):
        print(f"\n{tabname}: {prompt}", flush=True)


def txt2img_job(v: dict[str, Any], script_args: list, task_id: str, *, force_enable_hr: bool = False,
                adjust: Callable[[Any], None] | None = None) -> Callable[[], Any]:
    """The job function for one press of Generate in txt2img."""
    args = txt2img_processing_args(v, force_enable_hr=force_enable_hr)

    def job() -> Any:
        p = processing.StableDiffusionProcessingTxt2Img(sd_model=current_services().sd_model, **args)
        p.task_id = task_id
        if adjust is not None:
            adjust(p)
        _console_prompt("txt2img", p.prompt)
        return run_processing(p, "txt2img", script_args)

    return job


def present(processed: Any, started: float) -> tuple:
    """(gallery, generation info JSON, infotext HTML, log HTML, selected index) for a finished job."""
    images = [] if opt("do_not_show_images", False) else list(processed.images) + list(processed.extra_images)
    info_json = processed.js()
    if opt("samples_log_stdout", False):
        print(info_json, flush=True)
    log_html = plaintext_to_html(processed.comments, classname="comments") + performance_html(started)
    return gallery_value(images), info_json, plaintext_to_html(processed.info), log_html, 0


def performance_html(started: float) -> str:
    """A1111's "Time taken" line under the gallery."""
    elapsed = time.perf_counter() - started
    minutes, seconds = divmod(elapsed, 60)
    text = f"{int(minutes)} min. {seconds:.1f} sec." if minutes else f"{seconds:.1f} sec."
    return (f"<div class='performance'><p class='time'>Time taken: <wbr><span class='measurement'>{text}</span>"
            f"</p></div>")


def failure(message: str, started: float, task_id: str | None = None) -> tuple:
    """Outputs for a job that could not run: the gallery cleared, the message in the log area.

    A task refused before it reached the queue is still recorded as finished, so the page's
    progress request for it ends at once.
    """
    if task_id:
        mark_finished(task_id)
    return None, "", "", error_html(message) + performance_html(started), 0


def mark_finished(task_id: str) -> None:
    """Record ``task_id`` as done when the queue never saw it."""
    queue = job_queue()
    if queue.get(task_id) is None:
        queue.track_external(task_id, name="refused", kind="ui")
        queue.finish_external(task_id)


def run_ui_job(task_id: str | None, tabname: str, build_job: Callable[[str], Callable[[], Any]],
               finish: Callable[[Any, float], tuple] = present) -> tuple:
    """Queue the job ``build_job(task_id)`` makes, wait for it, and turn the result (or failure) into outputs; the
    outputs are recorded for a reloaded page's 🌀 (failures too, as A1111 records whatever the call returned)."""
    started = time.perf_counter()
    task_id = task_id or progress.create_task_id(tabname)
    result = _ui_job_outputs(task_id, tabname, build_job, finish, started)
    progress.record_results(task_id, result)
    return result


def _ui_job_outputs(task_id: str, tabname: str, build_job: Callable[[str], Callable[[], Any]],
                    finish: Callable[[Any, float], tuple], started: float) -> tuple:
    try:
        job = build_job(task_id)
        processed = run_job(task_id, job, name=tabname, kind="ui")
    except (GenerationError, Img2ImgInputError, OptionValueError, OptionFrozenError, DuplicateTaskError) as e:
        return failure(str(e), started, task_id)
    except JobCancelledError:
        return failure("Interrupted before it started.", started, task_id)
    except Exception as e:  # noqa: BLE001 - any failure is shown in the page; the console gets the traceback
        print(f"*** Error completing request {task_id}:\n{traceback.format_exc()}", flush=True)
        return failure(f"{type(e).__name__}: {e}", started, task_id)
    if processed is None:
        return failure("The job produced nothing.", started)
    result = finish(processed, started)
    job = job_queue().get(task_id)
    if job is not None and len(result) > 3 and isinstance(result[3], str):
        result = (*result[:3], add_memory_line(result[3], job.memory), *result[4:])
    return result


def txt2img(*values: Any) -> tuple:
    """Generate in txt2img (the tab's named inputs, then the scripts' arguments)."""
    v, script_args = split_args(TXT2IMG_FIELDS, values)
    return run_ui_job(v["task_id"], "txt2img", lambda task_id: txt2img_job(v, script_args, task_id))


def txt2img_upscale(gallery: list, index: Any, generation_info: str, *values: Any) -> tuple:
    """✨: run only the hires pass on the selected picture, with its seeds; it replaces that gallery entry."""
    v, script_args = split_args(TXT2IMG_FIELDS, values)
    try:
        info = json.loads(generation_info or "")
    except json.JSONDecodeError:
        return failure("Generate a picture first, then upscale it.", time.perf_counter())
    if not gallery:
        return failure("Generate a picture first, then upscale it.", time.perf_counter())
    i = int(index) if index is not None and 0 <= int(index) < len(gallery) else 0
    image = item_image(gallery[i])
    infotexts = info.get("infotexts") or []
    params = parse_generation_parameters(infotexts[i] if i < len(infotexts) else "", [])

    def adjust(p: Any) -> None:
        p.batch_size = p.n_iter = 1
        p.txt2img_upscale = True
        p.firstpass_image = image
        p.seed = params.get("Seed", -1)
        p.subseed = params.get("Variation seed", -1)
        p.override_settings["save_images_before_highres_fix"] = False

    def finish(processed: Any, started: float) -> tuple:
        new_gallery = list(gallery)
        new_gallery[i] = processed.images[0]
        infotexts[i:i + 1] = [processed.info] if i < len(infotexts) else []
        info["infotexts"] = infotexts
        log_html = plaintext_to_html(processed.comments, classname="comments") + performance_html(started)
        files = [x if not isinstance(x, (tuple, list)) else x[0] for x in new_gallery]
        return gallery_value(files), json.dumps(info), plaintext_to_html(processed.info), log_html, i

    return run_ui_job(v["task_id"], "txt2img",
                      lambda task_id: txt2img_job(v, script_args, task_id, force_enable_hr=True, adjust=adjust), finish)
