"""Reading the infotext back out of a picture file (PNG Info tab, drag-and-drop, API ``png-info``)."""
from __future__ import annotations

import io
import json
import logging
from typing import Any, Sequence

import piexif
import piexif.helper
from PIL import Image

from modules.processing.infotext_samplers import SAMPLERS

log = logging.getLogger(__name__)

IGNORED_INFO_KEYS = {
    "jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "exif",
    "loop", "background", "timestamp", "duration", "progressive", "progression",
    "icc_profile", "chromaticity", "photoshop",
}
"""Pillow ``image.info`` entries that are file-format details, not text the user cares about."""

IMAGE_DATA_TEXT_LIMIT = 10000


def samplers_map(samplers: Sequence[Any] = SAMPLERS) -> dict[str, str]:
    """Lower-case sampler names and aliases to sampler names (A1111's ``sd_samplers.samplers_map``)."""
    result: dict[str, str] = {}
    for sampler in samplers:
        for alias in getattr(sampler, "aliases", None) or ():
            result[alias.lower()] = sampler.name
        result[sampler.name.lower()] = sampler.name
    return result


def _exif_comment(exif_data: bytes) -> str:
    try:
        exif = piexif.load(exif_data)
    except (OSError, ValueError, KeyError):  # unreadable EXIF: treat as none
        exif = None
    comment = (exif or {}).get("Exif", {}).get(piexif.ExifIFD.UserComment, b"")
    try:
        return piexif.helper.UserComment.load(comment)
    except ValueError:
        return comment.decode("utf8", errors="ignore")


def novelai_infotext(items: dict[str, Any], width: int, height: int, samplers: Sequence[Any] = SAMPLERS) -> str:
    """A NovelAI picture's metadata (``Description`` + JSON ``Comment``) as an A1111 infotext."""
    info = json.loads(items["Comment"])
    sampler = samplers_map(samplers).get(info["sampler"], "Euler a")
    return (f"{items['Description']}\n"
            f"Negative prompt: {info['uc']}\n"
            f"Steps: {info['steps']}, Sampler: {sampler}, CFG scale: {info['scale']}, Seed: {info['seed']}, "
            f"Size: {width}x{height}, Clip skip: 2, ENSD: 31337")


def read_info_from_image(image: Image.Image, samplers: Sequence[Any] = SAMPLERS) -> tuple[str | None, dict]:
    """``(infotext or None, the picture's other text items)``.

    The infotext is the PNG ``parameters`` chunk, else the EXIF ``UserComment``
    (which wins when present, and is also listed as ``exif comment``), else a
    GIF comment; NovelAI pictures are converted.  File-format entries are left
    out of the items.
    """
    items = dict(image.info or {})
    geninfo = items.pop("parameters", None)

    if "exif" in items:
        exif_comment = _exif_comment(items["exif"])
        if exif_comment:
            items["exif comment"] = exif_comment
            geninfo = exif_comment
    elif "comment" in items:
        comment = items["comment"]
        geninfo = comment.decode("utf8", errors="ignore") if isinstance(comment, bytes) else comment

    for key in IGNORED_INFO_KEYS:
        items.pop(key, None)

    if items.get("Software", None) == "NovelAI":
        try:
            geninfo = novelai_infotext(items, image.width, image.height, samplers)
        except (KeyError, ValueError, TypeError):
            log.exception("Error parsing NovelAI image generation parameters")

    return geninfo, items


def image_data(data: bytes) -> str | None:
    """The infotext in dropped file bytes: from the picture, or the bytes themselves as short text.

    ``None`` when neither works (A1111's UI then leaves the prompt as it is).
    """
    try:
        image = Image.open(io.BytesIO(data))
        text, _ = read_info_from_image(image)
        return text
    except (OSError, ValueError):
        pass
    try:
        text = data.decode("utf8")
    except UnicodeDecodeError:
        return None
    return text if len(text) < IMAGE_DATA_TEXT_LIMIT else None
