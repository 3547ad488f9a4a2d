"""img2img's Generate: the selected mode's picture and mask, the tab's values, then the same queue as txt2img."""
from __future__ import annotations

import os
from typing import Any, Callable

from modules import processing
from modules.core.services import current_services
from modules.ui.gallery_files import item_path
from modules.ui.generation import IMG2IMG_FIELDS, common_processing_args, run_processing, run_ui_job, split_args
from modules.ui.img2img_batch import list_images, run_batch
from modules.ui.img2img_images import MODE_BATCH, Img2ImgInputError, scaled_size, source_for_mode


def img2img_processing_args(v: dict[str, Any]) -> dict[str, Any]:
    """The fields of :class:`StableDiffusionProcessingImg2Img` from the tab (without the pictures)."""
    args = common_processing_args(v)
    args.update({
        "mask_blur": int(v["mask_blur"]),
        "inpainting_fill": int(v["inpainting_fill"] or 0),
        "resize_mode": int(v["resize_mode"] or 0),
        "denoising_strength": float(v["denoising_strength"]),
        "image_cfg_scale": float(v["image_cfg_scale"]) if v["image_cfg_scale"] is not None else None,
        "inpaint_full_res": bool(v["inpaint_full_res"]),
        "inpaint_full_res_padding": int(v["inpaint_full_res_padding"]),
        "inpainting_mask_invert": int(v["inpainting_mask_invert"] or 0),
    })
    if not 0.0 <= args["denoising_strength"] <= 1.0:
        raise Img2ImgInputError("Denoising strength must be between 0 and 1")
    return args


def _batch_inputs(v: dict[str, Any]) -> list[str]:
    if v["batch_source"] == "from dir":
        if getattr(current_services().cmd_opts, "hide_ui_dir_config", False):
            raise Img2ImgInputError("Launched with --hide-ui-dir-config, batch img2img from a directory is disabled")
        folder = v["batch_input_dir"] or ""
        if not folder or not os.path.isdir(folder):
            raise Img2ImgInputError("Batch: give an existing input directory")
        return list_images(folder)
    files = [item_path(x) for x in v["batch_upload"] or []]
    files = [f for f in files if f]
    if not files:
        raise Img2ImgInputError("Batch: upload some pictures first")
    return files


def img2img_job(v: dict[str, Any], script_args: list, task_id: str) -> Callable[[], Any]:
    """The job function for one press of Generate in img2img (every mode, batch included)."""
    mode = int(v["mode"] or 0)
    args = img2img_processing_args(v)
    scale_tab = int(v["selected_scale_tab"] or 0) == 1
    if mode == MODE_BATCH:
        return _batch_job(v, args, script_args, task_id, scale_tab)
    source = source_for_mode(mode, v["init_img"], v["sketch"], v["init_img_with_mask"], v["inpaint_color_sketch"],
                             v["init_img_inpaint"], v["init_mask_inpaint"], v["mask_blur"], v["mask_alpha"])
    if scale_tab:
        args["width"], args["height"] = scaled_size(source.image, float(v["scale_by"]))

    def job() -> Any:
        services = current_services()
        p = processing.StableDiffusionProcessingImg2Img(sd_model=services.sd_model, init_images=[source.image],
                                                        mask=source.mask, **args)
        p.task_id = task_id
        if source.mask is not None:
            p.extra_generation_params["Mask blur"] = args["mask_blur"]
        return run_processing(p, "img2img", script_args)

    return job


def _batch_job(v: dict[str, Any], args: dict[str, Any], script_args: list, task_id: str,
               scale_tab: bool) -> Callable[[], Any]:
    inputs = _batch_inputs(v)
    from_dir = v["batch_source"] == "from dir"
    output_dir = (v["batch_output_dir"] or "") if from_dir else ""
    mask_dir = (v["batch_inpaint_mask_dir"] or "") if from_dir else ""

    def make_p(image: Any, mask: Any) -> Any:
        services = current_services()
        p = processing.StableDiffusionProcessingImg2Img(sd_model=services.sd_model, init_images=[image], mask=mask,
                                                        **{**args, "override_settings": dict(args["override_settings"])})
        p.task_id = task_id
        return p

    def job() -> Any:
        shown, last = run_batch(make_p, lambda p: run_processing(p, "img2img", script_args), inputs, output_dir,
                                mask_dir, bool(v["batch_use_png_info"]), list(v["batch_png_info_props"] or []),
                                (v["batch_png_info_dir"] or "") if from_dir else "",
                                float(v["scale_by"]) if scale_tab else None)
        if last is None:
            raise Img2ImgInputError("Batch: no picture could be processed")
        last.images = shown
        last.extra_images = []
        last.infotexts = [x.info.get("parameters", "") if hasattr(x, "info") else "" for x in shown]
        last.index_of_first_image = 0
        return last

    return job


def img2img(*values: Any) -> tuple:
    """Generate in img2img (the tab's named inputs, then the scripts' arguments)."""
    v, script_args = split_args(IMG2IMG_FIELDS, values)
    return run_ui_job(v["task_id"], "img2img", lambda task_id: img2img_job(v, script_args, task_id))
