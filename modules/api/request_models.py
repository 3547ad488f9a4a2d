"""The txt2img/img2img request models, derived from the processing classes as A1111 derives them.

A1111 builds them from the classes' constructor signatures: every field of the tab's processing
class (``StableDiffusionProcessing``'s first, in the dataclass's order) becomes ``Optional[its
type]`` with its default, except the fields the API does not take (:data:`NOT_IN_API`); a field
the tab's class declares again keeps the base class's default and place.  The API-only fields
(:data:`TXT2IMG_API_FIELDS`, :data:`IMG2IMG_API_FIELDS`) follow.  So the processing classes are
the one list of generation parameters; a field added there is a request field too.

The tab classes are read when a model is first asked for: their modules import torch, and the
API's imports stay light (:mod:`modules.api.models` builds the models on first access).
"""
from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

from modules.api import limits

NOT_IN_API = frozenset({
    # A1111's API_NOT_ALLOWED
    "sd_model", "outpath_samples", "outpath_grids", "sampler_index", "extra_generation_params", "overlay_images",
    "do_not_reload_embeddings", "seed_enable_extras", "prompt_for_display", "sampler_noise_scheduler_override",
    "ddim_discretize",
    # set by the web UI itself (A1111 declares them with ``init=False`` or as plain class attributes)
    "token_merging_ratio", "token_merging_ratio_hr", "scripts", "script_args", "user", "is_api", "services",
})
"""Fields of the processing classes that are not request fields."""

API_TYPES: dict[str, Any] = {
    "prompt": str, "negative_prompt": str, "seed": int, "subseed": int, "comments": dict,
    "firstpass_image": str, "mask": str, "latent_mask": str,
}
"""Request types of the fields the classes type loosely (a prompt list, a picture): A1111's annotations, pictures
as base64 strings."""

# API-only fields are not Optional in A1111 (null is refused), except those typed ``X | None`` there.
TXT2IMG_API_FIELDS: list[tuple[str, Any, Any]] = [
    ("sampler_index", str, "Euler"),
    ("script_name", Optional[str], None),
    ("script_args", list, []),
    ("send_images", bool, True),
    ("save_images", bool, False),
    ("alwayson_scripts", dict, {}),
    ("infotext", Optional[str], None),
]

IMG2IMG_API_FIELDS: list[tuple[str, Any, Any]] = [
    ("sampler_index", str, "Euler"),
    ("include_init_images", bool, False),
    ("script_name", Optional[str], None),
    ("script_args", list, []),
    ("send_images", bool, True),
    ("save_images", bool, False),
    ("alwayson_scripts", dict, {}),
    ("infotext", Optional[str], None),
]

API_ONLY_FIELDS = frozenset(name for name, _, _ in TXT2IMG_API_FIELDS + IMG2IMG_API_FIELDS)
"""Request fields that are not arguments of the processing classes."""

IMG2IMG_REDECLARED = {"denoising_strength": (float, 0.75)}
"""Class fields A1111 declares again among img2img's API fields: (type, default), in the class field's place."""


def processing_fields(cls: type) -> list[tuple[str, Any, Any]]:
    """``(name, request type, default)`` of the request fields the processing class ``cls`` takes, in A1111's
    order (the base class's default for a field ``cls`` declares again, as A1111's signature merge has it)."""
    base = [c for c in cls.__mro__ if dataclasses.is_dataclass(c)][-1]  # StableDiffusionProcessing
    base_defaults = {f.name: f.default for f in dataclasses.fields(base)}
    types = typing.get_type_hints(cls)
    fields = []
    for field in dataclasses.fields(cls):
        if field.name in NOT_IN_API or not field.init:
            continue
        annotation = API_TYPES.get(field.name, types[field.name])
        fields.append((field.name, annotation, base_defaults.get(field.name, field.default)))
    return fields


def request_model(name: str, cls: type, api_fields: list[tuple[str, Any, Any]],
                  redeclared: dict[str, tuple[Any, Any]], bounds: dict[str, tuple[float, float]]) -> type[BaseModel]:
    """The request model of the processing class ``cls``, then ``api_fields``.

    ``redeclared``: name -> (type, default) of class fields A1111 declares again among its API fields (the
    declaration keeps the class field's position).  ``bounds`` (:mod:`modules.api.limits`) appear in the
    schema as ``minimum``/``maximum``; :func:`modules.api.limits.check` enforces them with A1111's error body,
    after the infotext and the defaults were applied."""
    model_fields: dict[str, Any] = {}
    for field_name, annotation, default in processing_fields(cls):
        annotation, default = redeclared.get(field_name, (Optional[annotation], default))
        low_high = bounds.get(field_name)
        extra = {"minimum": low_high[0], "maximum": low_high[1]} if low_high is not None else None
        model_fields[field_name] = (annotation, Field(default=default, json_schema_extra=extra))
    for field_name, annotation, default in api_fields:
        model_fields[field_name] = (annotation, Field(default=default))
    config = ConfigDict(populate_by_name=True, frozen=False, protected_namespaces=())
    return create_model(name, __config__=config, **model_fields)


@functools.cache
def txt2img_request_model() -> type[BaseModel]:
    """Body of ``POST /sdapi/v1/txt2img`` (A1111's ``StableDiffusionTxt2ImgProcessingAPI``)."""
    # torch on first use: the tab's processing module imports it, the API's modules do not
    from modules.processing.txt2img import StableDiffusionProcessingTxt2Img

    return request_model("StableDiffusionProcessingTxt2Img", StableDiffusionProcessingTxt2Img, TXT2IMG_API_FIELDS,
                         {}, limits.TXT2IMG_BOUNDS)


@functools.cache
def img2img_request_model() -> type[BaseModel]:
    """Body of ``POST /sdapi/v1/img2img`` (A1111 types ``denoising_strength`` as a plain float there)."""
    # torch on first use: the tab's processing module imports it, the API's modules do not
    from modules.processing.img2img import StableDiffusionProcessingImg2Img

    return request_model("StableDiffusionProcessingImg2Img", StableDiffusionProcessingImg2Img, IMG2IMG_API_FIELDS,
                         IMG2IMG_REDECLARED, limits.IMG2IMG_BOUNDS)


def processing_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The request model's defaults of the processing fields, where not None (a null in the request means this)."""
    return {name: info.default for name, info in model.model_fields.items()
            if name not in API_ONLY_FIELDS and info.default is not None}
