"""txt2img/img2img requests -> a job for the queue -> A1111's ``{images, parameters, info}`` answer.

:func:`prepare` does everything that can fail on bad input before the job is queued (infotext,
scripts, sampler and checkpoint names, value limits, decoding pictures), so a bad request is
answered with a 4xx at once, by the synchronous and the asynchronous routes alike.  The
processing object itself is built inside the job, when the model it will use is known.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from modules import processing
from modules.api import limits
from modules.api.errors import ApiError, client_error
from modules.api.images import decode_base64_to_image, encode_pil_to_base64
from modules.api.infotext_request import apply_infotext
from modules.api.request_models import API_ONLY_FIELDS, processing_defaults
from modules.api.script_args import build_script_args, runner_for, selectable_script
from modules.core.services import current_services
from modules.postprocess.upscaler import UpscalerUnavailable
from modules.postprocess.upscaler_registry import LATENT_UPSCALE_MODES
from modules.runtime.progress import create_task_id
from modules.sampling import registry
from modules.sampling.schedulers import find_scheduler

NOT_A_CHECKPOINT = (None, "", "None", "Use same checkpoint")
NOT_A_SAMPLER = (None, "", "Use same sampler")


@dataclass
class PreparedGeneration:
    """A validated request, ready to run as a job."""

    tabname: str
    task_id: str
    request: Any
    args: dict[str, Any]
    script_args: list
    selectable: Any = None
    runner: Any = None
    send_images: bool = True
    cached_answer: dict | None = field(default=None, repr=False)

    @property
    def job_name(self) -> str:
        return f"scripts_{self.tabname}"

    def run(self) -> Any:
        """Build the processing object and run it (called by the job queue's worker).

        The classes and ``process_images`` are looked up on :mod:`modules.processing` when the job runs
        (loading them imports torch; extensions may wrap them there, as in A1111)."""
        cls = (processing.StableDiffusionProcessingTxt2Img if self.tabname == "txt2img"
               else processing.StableDiffusionProcessingImg2Img)
        p = cls(sd_model=current_services().sd_model, **self.args)
        p.is_api = True
        p.task_id = self.task_id
        try:
            runner = self.runner
            if runner is not None:
                p.scripts = runner
                p.script_args = list(self.script_args) if self.selectable is not None else tuple(self.script_args)
                runner.setup_scrips(p, is_ui=False)
                p.scripts_setup_complete = True
            processed = runner.run(p, *p.script_args) if self.selectable is not None else None
            if processed is None:
                processed = processing.process_images(p)
        except Exception as e:
            named = self._named_client_error(e)
            if named is None:
                raise
            raise named from e
        finally:
            p.close()
            self.args, self.script_args = {}, []  # the decoded pictures are not needed any more
        return processed

    def _named_client_error(self, e: Exception) -> ApiError | None:
        """A bad-input failure inside the job as a 4xx naming the request field that asked for it (the
        exception itself cannot know: a missing upscaler file may be the hires fix's or a script's)."""
        known = client_error(e)
        if known is None or known is e:
            return None  # our own fault, or already an answer
        if known.key is None:
            known.key = self._field_for(e)
        return known

    def _field_for(self, e: Exception) -> str | None:
        names = {c.__name__ for c in type(e).__mro__}
        if "FaceRestorationUnavailable" in names:
            return "restore_faces"
        if "UpscalerUnavailable" in names:
            return "hr_upscaler" if self.args.get("enable_hr") else "script_args" if self.selectable else None
        if names & {"CheckpointError", "ConfigError"}:
            if "sd_model_checkpoint" in (self.args.get("override_settings") or {}):
                return "override_settings"
            for name in ("refiner_checkpoint", "hr_checkpoint_name"):
                if self.args.get(name) not in NOT_A_CHECKPOINT:
                    return name
            return "sd_model_checkpoint"
        return None

    def answer(self, processed: Any) -> dict[str, Any]:
        """The JSON answer for ``processed`` (pictures encoded in setting ``samples_format``)."""
        if self.cached_answer is not None:
            return self.cached_answer
        images = [encode_pil_to_base64(image) for image in processed.images] if self.send_images else []
        parameters = {name: getattr(self.request, name) for name in type(self.request).model_fields}
        if self.tabname == "img2img" and not self.request.include_init_images:
            parameters["init_images"] = None
            parameters["mask"] = None
        self.cached_answer = {"images": images, "parameters": parameters, "info": processed.js()}
        return self.cached_answer


def resolve_sampler(name: str | None, scheduler: str | None, field_name: str = "sampler_name") -> tuple[str, str]:
    """(sampler name, schedule label) for request values; old combined names (``DPM++ 2M Karras``) are split,
    a schedule equal to the sampler's own default becomes ``Automatic``.  Unknown names are a 400."""
    if scheduler not in (None, "") and find_scheduler(scheduler) is None:
        key = "hr_scheduler" if field_name.startswith("hr_") else "scheduler"
        raise ApiError(400, f"Scheduler not found: {scheduler}", key=key)
    found, label = registry.split_sampler_and_scheduler(name, scheduler or None)
    if found is None:
        raise ApiError(400, f"Sampler not found: {name}", key=field_name)
    return registry.get_sampler_and_scheduler(found, label)


def _check_checkpoint(name: Any, field_name: str) -> None:
    if name in NOT_A_CHECKPOINT:
        return
    checkpoints = current_services().checkpoints
    if checkpoints is None or checkpoints.get_closest_match(str(name)) is None:
        raise ApiError(422, f"Checkpoint not found: {name}", key=field_name)


def _check_override_settings(overrides: dict[str, Any]) -> None:
    _check_checkpoint(overrides.get("sd_model_checkpoint"), "override_settings")
    opts = current_services().opts
    for key, value in overrides.items():
        try:
            opts.validate(key, value, is_api=False)
        except Exception as e:  # the store's own errors name the key; anything else is a bad value too
            known = client_error(e)
            raise ApiError(known.status_code if known is not None else 422, f"override_settings: {e}",
                           key="override_settings") from e


def _check_upscaler(name: Any) -> None:
    if name in (None, ""):
        return
    known = set(LATENT_UPSCALE_MODES)
    upscalers = current_services().upscalers
    if upscalers is not None:
        known |= set(upscalers.names())
    if name not in known:
        raise ApiError(422, f"Upscaler not found: {name}", key="hr_upscaler")
    problem = upscaler_file_problem(name)
    if problem is not None:
        raise ApiError(404, f"hr_upscaler: {problem}", key="hr_upscaler")


def upscaler_file_problem(name: str) -> str | None:
    """Why the model file of the upscaler ``name`` is missing (None when it is there or the upscaler needs none);
    looks at the disk only (a damaged file is found when it is loaded)."""
    upscalers = current_services().upscalers
    found = upscalers.find(name) if upscalers is not None and hasattr(upscalers, "find") else None
    path = getattr(found, "data_path", None)
    if not isinstance(path, str) or not path:
        return None
    resolve = getattr(getattr(found, "scaler", None), "resolve_path", None)
    if callable(resolve):  # a named entry (a URL) is read from a file of the model folder
        try:
            resolve(path)
        except UpscalerUnavailable as e:
            return str(e)
        return None
    if "://" not in path and not os.path.exists(path):
        return f"{name}: model file {os.path.basename(path)} is not on disk"
    return None


def _check_face_restoration(args: dict[str, Any]) -> None:
    """``restore_faces`` with a restorer whose model file is missing is refused before the job (A1111: a 500 after
    the whole generation)."""
    services = current_services()
    overrides = args.get("override_settings") or {}
    enabled = args.get("restore_faces")
    if enabled is None:
        enabled = overrides.get("face_restoration", getattr(services.opts, "face_restoration", False))
    if not enabled or services.face_restorers is None:
        return
    name = overrides.get("face_restoration_model", getattr(services.opts, "face_restoration_model", None))
    restorer = services.face_restorers.find(name) if isinstance(name, str) else None
    model_files = getattr(restorer, "model_files", None)
    if callable(model_files) and not model_files():
        expected = getattr(restorer, "expected_file", "") or "its model file"
        folder = (getattr(restorer, "model_dirs", None) or ["its models folder"])[0]
        raise ApiError(404, f"restore_faces: {name} has no model file; put {expected} in {folder}", key="restore_faces")


def _style_applier() -> Any:
    """``(text, styles, negative) -> text`` with the request's styles applied (None without a styles database)."""
    styles = current_services().prompt_styles
    if styles is None:
        return None

    def apply(text: str, names: list[str], negative: bool) -> str:
        if negative:
            return styles.apply_negative_styles_to_prompt(text, names)
        return styles.apply_styles_to_prompt(text, names)

    return apply


def prepare(request: Any, tabname: str) -> PreparedGeneration:
    """Validate ``request`` (a txt2img or img2img request model) and turn it into a job; raises :class:`ApiError`."""
    task_id = request.force_task_id or create_task_id(tabname)
    runner = runner_for(tabname)
    infotext_args = apply_infotext(request, tabname, runner)
    selectable, selectable_index = selectable_script(request.script_name, runner)

    args = {name: getattr(request, name) for name in type(request).model_fields if name not in API_ONLY_FIELDS}
    # null means "the default" (A1111 passes it on and fails with a 500 deep inside)
    for name, default in processing_defaults(type(request)).items():
        if args.get(name) is None:
            args[name] = default
    sampler, scheduler = resolve_sampler(request.sampler_name or request.sampler_index, request.scheduler,
                                         "sampler_name" if request.sampler_name else "sampler_index")
    args["sampler_name"] = sampler
    if not args.get("scheduler") and scheduler != "Automatic":
        args["scheduler"] = scheduler
    args["do_not_save_samples"] = not request.save_images
    args["do_not_save_grid"] = not request.save_images
    if tabname == "txt2img":
        hr_scheduler = args.get("hr_scheduler") if args.get("hr_scheduler") != "Use same scheduler" else None
        hr_sampler = args.get("hr_sampler_name")
        resolve_sampler(hr_sampler if hr_sampler not in NOT_A_SAMPLER else sampler, hr_scheduler, "hr_sampler_name")

    limits.check(args, tabname)
    limits.check_prompts(args, _style_applier())
    if current_services().opts is not None:
        _check_override_settings(args.get("override_settings") or {})
    _check_checkpoint(args.get("refiner_checkpoint"), "refiner_checkpoint")
    if tabname == "txt2img":
        _check_checkpoint(args.get("hr_checkpoint_name"), "hr_checkpoint_name")
        if args.get("enable_hr"):
            _check_upscaler(args.get("hr_upscaler"))
    _check_face_restoration(args)
    script_args = build_script_args(request, runner, selectable, selectable_index, infotext_args)
    _decode_images(args, tabname)
    return PreparedGeneration(tabname, task_id, request, args, script_args, selectable=selectable, runner=runner,
                              send_images=bool(request.send_images))


def _decode_images(args: dict[str, Any], tabname: str) -> None:
    if args.get("firstpass_image"):
        args["firstpass_image"] = decode_base64_to_image(args["firstpass_image"], "firstpass_image")
    else:
        args["firstpass_image"] = None
    if tabname != "img2img":
        return
    init_images = args.get("init_images")
    if init_images is None:
        raise ApiError(404, "Init image not found", key="init_images")
    if not init_images:
        raise ApiError(422, "init_images: at least one image is needed", key="init_images")
    if len(init_images) > limits.MAX_BATCH_SIZE:
        raise ApiError(422, f"init_images: at most {limits.MAX_BATCH_SIZE} images, got {len(init_images)}",
                       key="init_images")
    args["init_images"] = [decode_base64_to_image(x, f"init_images[{i}]") for i, x in enumerate(init_images)]
    for name in ("mask", "latent_mask"):
        args[name] = decode_base64_to_image(args[name], name) if args.get(name) else None
