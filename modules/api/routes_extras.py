"""``POST /sdapi/v1/extra-single-image`` and ``/sdapi/v1/extra-batch-images`` (A1111's extras API).

Request fields and defaults are A1111's.  The pictures are processed as the
Extras tab would (upscale, GFPGAN, CodeFormer, in the configured order) but
never saved.  Where A1111 answers 500 this answers 4xx naming the problem: an
unknown upscaler or an undecodable picture is 422, a missing model file 404.
Pictures are decoded and encoded by :mod:`modules.api.images` (base64, ``data:`` URIs,
guarded URLs) and errors raised as :class:`modules.api.errors.ApiError`.  Call
:func:`register` with the :class:`modules.api.api.Api` instance.
"""
from __future__ import annotations

import os
from typing import Any, Literal, Optional

from PIL import Image
from pydantic import BaseModel, Field

from modules.api.errors import ApiError, client_error
from modules.api.generation import upscaler_file_problem
from modules.api.images import decode_base64_to_image, encode_pil_to_base64
from modules.core.limits import MAX_REQUEST_PIXELS, MAX_SIDE, ImageTooLargeError, limits_text, within_limits
from modules.core.services import current_services
from modules.postprocess.extras_ops import UnknownUpscalerError, upscale_sizes
from modules.postprocess.face_restoration import FaceRestorationUnavailable
from modules.postprocess.upscaler import UpscalerUnavailable
from modules.processing.extras_run import ExtrasInputError, run_extras
from modules.runtime.queue_lock import queue_lock

OPERATION_FIELDS = {"upscale_by": "upscaling_resize", "upscale_to_width": "upscaling_resize_w"}
"""The Upscale operation's control names -> this API's field names."""


class ExtrasBaseRequest(BaseModel):
    resize_mode: Literal[0, 1] = Field(default=0, title="Resize Mode",
                                       description="0 to upscale by upscaling_resize, 1 to upscale to upscaling_resize_w x upscaling_resize_h.")
    show_extras_results: bool = Field(default=True, title="Show results", description="Should the backend return the generated image?")
    gfpgan_visibility: float = Field(default=0, title="GFPGAN Visibility", ge=0, le=1, allow_inf_nan=False,
                                     description="Sets the visibility of GFPGAN, values should be between 0 and 1.")
    codeformer_visibility: float = Field(default=0, title="CodeFormer Visibility", ge=0, le=1, allow_inf_nan=False,
                                         description="Sets the visibility of CodeFormer, values should be between 0 and 1.")
    codeformer_weight: float = Field(default=0, title="CodeFormer Weight", ge=0, le=1, allow_inf_nan=False,
                                     description="Sets the weight of CodeFormer, values should be between 0 and 1.")
    upscaling_resize: float = Field(default=2, title="Upscaling Factor", gt=0, le=MAX_SIDE, allow_inf_nan=False,
                                    description="By how much to upscale the image, only used when resize_mode=0.")
    upscaling_max_side_length: int = Field(default=0, title="Max side length", ge=0,
                                           description="Limits the maximum side length of the image. Only used when resize_mode=0. 0 means no limit.")
    upscaling_resize_w: int = Field(default=512, title="Target Width", ge=1, le=MAX_SIDE,
                                    description="Target width for the upscaler to hit. Only used when resize_mode=1.")
    upscaling_resize_h: int = Field(default=512, title="Target Height", ge=1, le=MAX_SIDE,
                                    description="Target height for the upscaler to hit. Only used when resize_mode=1.")
    upscaling_crop: bool = Field(default=True, title="Crop to fit",
                                 description="Should the upscaler crop the image to fit in the chosen size?")
    upscaler_1: str = Field(default="None", title="Main upscaler",
                            description="The name of the main upscaler to use, one of /sdapi/v1/upscalers.")
    upscaler_2: str = Field(default="None", title="Secondary upscaler",
                            description="The name of the secondary upscaler to use, one of /sdapi/v1/upscalers.")
    extras_upscaler_2_visibility: float = Field(default=0, title="Secondary upscaler visibility", ge=0, le=1,
                                                allow_inf_nan=False,
                                                description="Sets the visibility of secondary upscaler, values should be between 0 and 1.")
    upscale_first: bool = Field(default=False, title="Upscale first",
                                description="Should the upscaler run before restoring faces? (no effect: the order is fixed)")


class ExtrasSingleImageRequest(ExtrasBaseRequest):
    image: str = Field(default="", title="Image", description="Image to work on, must be a Base64 string containing the image's data.")


class FileData(BaseModel):
    data: str = Field(title="File data", description="Base64 representation of the file")
    name: str = Field(title="File name")


class ExtrasBatchImagesRequest(ExtrasBaseRequest):
    imageList: list[FileData] = Field(title="Images", description="List of images to work on. Must be Base64 strings")


class ExtraBaseResponse(BaseModel):
    html_info: str = Field(title="HTML info", description="A series of HTML tags containing the process info.")


class ExtrasSingleImageResponse(ExtraBaseResponse):
    image: Optional[str] = Field(default=None, title="Image", description="The generated image in base64 format.")


class ExtrasBatchImagesResponse(ExtraBaseResponse):
    images: list[str] = Field(title="Images", description="The generated images in base64 format.")


def _extras_kwargs(req: ExtrasBaseRequest) -> dict[str, Any]:
    fields = req.model_dump()
    return {
        "resize_mode": fields["resize_mode"],
        "show_extras_results": fields["show_extras_results"],
        "gfpgan_visibility": fields["gfpgan_visibility"],
        "codeformer_visibility": fields["codeformer_visibility"],
        "codeformer_weight": fields["codeformer_weight"],
        "upscaling_resize": fields["upscaling_resize"],
        "upscaling_resize_w": fields["upscaling_resize_w"],
        "upscaling_resize_h": fields["upscaling_resize_h"],
        "upscaling_crop": fields["upscaling_crop"],
        "extras_upscaler_1": fields["upscaler_1"],
        "extras_upscaler_2": fields["upscaler_2"],
        "extras_upscaler_2_visibility": fields["extras_upscaler_2_visibility"],
        "upscale_first": fields["upscale_first"],
        "max_side_length": fields["upscaling_max_side_length"],
    }


def _check_upscalers(req: ExtrasBaseRequest) -> None:
    """Unknown upscaler names are refused before any work (A1111 fails with 500 halfway)."""
    services = current_services()
    upscalers = services.upscalers
    known = set(upscalers.names()) if upscalers is not None else {u.name for u in services.sd_upscalers}
    for field in ("upscaler_1", "upscaler_2"):
        name = getattr(req, field)
        if name and name != "None" and name not in known:
            raise ApiError(422, f"Upscaler not found: {name!r} ({field})", key=field)
        used = field == "upscaler_1" or req.extras_upscaler_2_visibility > 0
        problem = upscaler_file_problem(name) if used and name and name != "None" else None
        if problem is not None:  # a model file not on disk: refused before the picture is even decoded
            raise ApiError(404, problem, key=field)


def decode_all(encoded: list[str], list_field: str) -> list[Image.Image]:
    """The pictures of a batch, refused (422 naming ``list_field``) as soon as they pass
    :data:`~modules.core.limits.MAX_REQUEST_PIXELS` together, before the rest is decoded."""
    images, total = [], 0
    for i, data in enumerate(encoded):
        image = decode_base64_to_image(data, f"{list_field}[{i}].data")
        total += image.width * image.height
        if total > MAX_REQUEST_PIXELS:
            raise ApiError(422, f"{list_field}: the pictures are more than {MAX_REQUEST_PIXELS:,} pixels in all",
                           key=list_field)
        images.append(image)
    return images


def _upscale_field(req: ExtrasBaseRequest, image: Image.Image) -> str:
    if req.resize_mode == 0:
        return "upscaling_resize"
    wide = req.upscaling_resize_w / image.width >= req.upscaling_resize_h / image.height
    return "upscaling_resize_w" if wide else "upscaling_resize_h"


def check_sizes(req: ExtrasBaseRequest, images: list[Image.Image], list_field: str) -> None:
    """What the upscale would make of each picture, and of all of them together, within
    :mod:`modules.core.limits`; a 422 naming the field otherwise, before any work (the pictures themselves
    were measured when decoded)."""
    upscaling = req.upscaler_1 not in (None, "", "None")
    total_in = total_out = 0
    for image in images:
        total_in += image.width * image.height
        if not upscaling:
            total_out += image.width * image.height
            continue
        _, made, result = upscale_sizes(image.width, image.height, req.resize_mode, req.upscaling_resize,
                                        req.upscaling_max_side_length, req.upscaling_resize_w, req.upscaling_resize_h,
                                        req.upscaling_crop)
        for width, height in (made, result):
            if not within_limits(width, height):
                field = _upscale_field(req, image)
                raise ApiError(422, f"{field}: upscaling {image.width}x{image.height} would make {width}x{height}, "
                                    f"larger than the limit ({limits_text()})", key=field)
        total_out += result[0] * result[1]
    if max(total_in, total_out) > MAX_REQUEST_PIXELS:
        raise ApiError(422, f"{list_field}: the pictures would be more than {MAX_REQUEST_PIXELS:,} pixels in all",
                       key=list_field)


def _model_field(req: ExtrasBaseRequest, e: Exception) -> str:
    """The field whose model file is missing or broken: the restorer's visibility, or the upscaler whose file the
    message names."""
    message = str(e)
    if isinstance(e, FaceRestorationUnavailable):
        return "codeformer_visibility" if "codeformer" in message.lower() else "gfpgan_visibility"
    registry = current_services().upscalers
    for field in ("upscaler_1", "upscaler_2"):
        found = registry.find(getattr(req, field)) if registry is not None and hasattr(registry, "find") else None
        path = getattr(found, "data_path", None)
        if isinstance(path, str) and path and os.path.basename(path) in message:
            return field
    return "upscaler_1"


def _run(api: Any, req: ExtrasBaseRequest, **kwargs: Any) -> tuple[list[Image.Image], str]:
    lock = getattr(api, "queue_lock", None) or queue_lock
    try:
        with lock:
            outputs, html_info, _ = run_extras(image_folder=kwargs.pop("image_folder", ""), input_dir="", output_dir="",
                                               save_output=False, **kwargs)
    except (UnknownUpscalerError, ExtrasInputError) as e:
        raise ApiError(422, str(e)) from e
    except ImageTooLargeError as e:  # check_sizes missed it (an extension's operation): still the request's
        raise ApiError(422, str(e), key=OPERATION_FIELDS.get(e.key or "", e.key)) from e
    except UpscalerUnavailable as e:  # a model file missing (404) or unreadable (422)
        known = client_error(e) or ApiError(404, str(e))
        raise ApiError(known.status_code, str(e), key=_model_field(req, e)) from e
    return outputs, html_info


def register(api: Any) -> None:
    """Add the two extras routes to ``api`` (the :class:`modules.api.api.Api`)."""

    def extras_single_image_api(req: ExtrasSingleImageRequest) -> ExtrasSingleImageResponse:
        _check_upscalers(req)
        if not req.image:
            raise ApiError(422, "image not selected", key="image")
        image = decode_base64_to_image(req.image, "image")
        check_sizes(req, [image], "image")
        outputs, html_info = _run(api, req, extras_mode=0, image=image, **_extras_kwargs(req))
        return ExtrasSingleImageResponse(image=encode_pil_to_base64(outputs[0]) if outputs else None,
                                         html_info=html_info)

    def extras_batch_images_api(req: ExtrasBatchImagesRequest) -> ExtrasBatchImagesResponse:
        _check_upscalers(req)
        folder = decode_all([item.data for item in req.imageList], "imageList")
        check_sizes(req, folder, "imageList")
        outputs, html_info = _run(api, req, extras_mode=1, image="", image_folder=folder, **_extras_kwargs(req))
        return ExtrasBatchImagesResponse(images=[encode_pil_to_base64(im) for im in outputs], html_info=html_info)

    routes = [("/sdapi/v1/extra-single-image", extras_single_image_api, ExtrasSingleImageResponse),
              ("/sdapi/v1/extra-batch-images", extras_batch_images_api, ExtrasBatchImagesResponse)]
    for path, endpoint, response_model in routes:
        api.add_api_route(path, endpoint, methods=["POST"], response_model=response_model)
    _ensure_served(api, routes)


def _ensure_served(api: Any, routes: list[tuple[str, Any, Any]]) -> None:
    """Put the routes on the app when ``api.add_api_route`` only reached a router the app already copied."""
    app = getattr(api, "app", None)
    if app is None:
        return
    served = {getattr(r, "path", None) for r in app.routes}
    missing = [r for r in routes if r[0] not in served]
    if not missing:
        return
    from fastapi import APIRouter

    router = APIRouter()
    for path, endpoint, response_model in missing:
        router.add_api_route(path, endpoint, methods=["POST"], response_model=response_model)
    app.include_router(router)
