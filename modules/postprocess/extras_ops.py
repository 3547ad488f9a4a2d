"""The Extras tab's built-in postprocessing operations: Upscale, GFPGAN, CodeFormer.

Each operation is a :class:`PostprocessingOperation` (A1111's
``ScriptPostprocessing``): a ``name``, a default ``order`` and the names of its
``controls``; :meth:`~PostprocessingOperation.process` changes a
``PostprocessedImage`` (:mod:`modules.scripting.postprocessing`) and records what
it did in ``pp.info`` (written to the ``extras`` PNG chunk as ``Key: value, ...``).
Extensions add operations with :func:`register_operation`, or as postprocessing
scripts (A1111's way); :mod:`modules.processing.extras_run` puts both in the order
of the settings and runs them.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np
from PIL import Image

from modules.core.limits import check_size
from modules.core.services import current_services


class UnknownUpscalerError(ValueError):
    """An upscaler name that is not in the upscaler list."""

    def __init__(self, name: str) -> None:
        super().__init__(f"could not find upscaler named {name}")
        self.name = name


class PostprocessingOperation:
    """One Extras operation.  Subclasses set ``name``, ``order`` and ``controls`` and override :meth:`process`."""

    name: str = ""
    order: int = 1000
    controls: tuple[str, ...] = ()
    """The keyword arguments :meth:`process` takes, in the order the UI passes them."""

    def process_firstpass(self, pp: Any, **kwargs: Any) -> None:
        """Called for every operation before any :meth:`process` (to announce target sizes)."""

    def process(self, pp: Any, **kwargs: Any) -> None:
        """Change ``pp.image`` and add to ``pp.info``."""

    def image_changed(self) -> None:
        """The source picture changed in the UI (drop caches)."""


# --- Upscale -----------------------------------------------------------------------------------------------

_upscale_cache: "OrderedDict[tuple, Image.Image]" = OrderedDict()


def clear_upscale_cache() -> None:
    _upscale_cache.clear()


def limit_size_by_one_dimension(w: float, h: float, limit: int) -> tuple[int, int]:
    """(w, h) shrunk so the longer side is at most ``limit`` (0 = no limit), keeping the aspect ratio."""
    if limit and h > w and h > limit:
        w = limit * w // h
        h = limit
    elif limit and w > limit:
        h = limit * h // w
        w = limit
    return int(w), int(h)


def upscale_sizes(width: int, height: int, upscale_mode: int, upscale_by: float, max_side_length: int,
                  upscale_to_width: int, upscale_to_height: int, upscale_crop: bool
                  ) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """(factor, size the upscaler makes, size of the result) for a ``width`` x ``height`` picture, by the rules of
    :meth:`UpscaleOperation.upscale` (the upscaler rounds its size down to a multiple of 8)."""
    width, height = max(width, 1), max(height, 1)
    if upscale_mode == 1:
        upscale_by = max(upscale_to_width / width, upscale_to_height / height)
    elif max_side_length and max(width, height) * upscale_by > max_side_length:
        upscale_to_width, upscale_to_height = limit_size_by_one_dimension(width * upscale_by, height * upscale_by,
                                                                          max_side_length)
        upscale_by = max(upscale_to_width / width, upscale_to_height / height)
        upscale_crop = False
    made = (int(width * upscale_by // 8 * 8), int(height * upscale_by // 8 * 8))
    result = (upscale_to_width, upscale_to_height) if upscale_mode == 1 and upscale_crop else made
    return upscale_by, made, result


def check_upscale_size(width: int, height: int, upscale_mode: int, upscale_by: float, max_side_length: int,
                       upscale_to_width: int, upscale_to_height: int, upscale_crop: bool) -> None:
    """Raise :class:`~modules.core.limits.ImageTooLargeError` (naming the control) when the upscale would make a
    picture over the limits, before the upscaler allocates it (A1111 builds a 100000x100000 picture when asked)."""
    _, made, result = upscale_sizes(width, height, upscale_mode, upscale_by, max_side_length, upscale_to_width,
                                    upscale_to_height, upscale_crop)
    key = "upscale_to_width" if upscale_mode == 1 else "upscale_by"
    for size in (made, result):
        check_size(*size, key=key, what=f"upscaling {width}x{height}")


def _find_upscaler(name: str | None) -> Any:
    if name is None or name == "None":
        return None
    services = current_services()
    registry = services.upscalers
    if registry is not None and hasattr(registry, "find"):
        found = registry.find(name)
    else:
        found = next((u for u in services.sd_upscalers or [] if u.name == name), None)
    if found is None:
        raise UnknownUpscalerError(name)
    return found


def _image_key(image: Image.Image) -> str:
    return hashlib.sha1(image.tobytes() + f"{image.mode}{image.size}".encode()).hexdigest()


def _cache_limit() -> int:
    opts = current_services().opts
    return int(getattr(opts, "upscaling_max_images_in_cache", 5)) if opts is not None else 5


class UpscaleOperation(PostprocessingOperation):
    """Upscaler 1 (and optionally a blend with upscaler 2) by a factor or to a size."""

    name = "Upscale"
    order = 1000
    controls = ("upscale_enabled", "upscale_mode", "upscale_by", "max_side_length", "upscale_to_width",
                "upscale_to_height", "upscale_crop", "upscaler_1_name", "upscaler_2_name", "upscaler_2_visibility")

    def upscale(self, image: Image.Image, info: dict, upscaler: Any, upscale_mode: int, upscale_by: float,
                max_side_length: int, upscale_to_width: int, upscale_to_height: int, upscale_crop: bool) -> Image.Image:
        check_upscale_size(image.width, image.height, upscale_mode, upscale_by, max_side_length, upscale_to_width,
                           upscale_to_height, upscale_crop)
        if upscale_mode == 1:
            upscale_by = max(upscale_to_width / image.width, upscale_to_height / image.height)
            info["Postprocess upscale to"] = f"{upscale_to_width}x{upscale_to_height}"
        else:
            info["Postprocess upscale by"] = upscale_by
            if max_side_length and max(*image.size) * upscale_by > max_side_length:
                upscale_mode = 1
                upscale_crop = False
                upscale_to_width, upscale_to_height = limit_size_by_one_dimension(
                    image.width * upscale_by, image.height * upscale_by, max_side_length)
                upscale_by = max(upscale_to_width / image.width, upscale_to_height / image.height)
                info["Max side length"] = max_side_length

        key = (_image_key(image), upscaler.name, upscale_mode, upscale_by, upscale_to_width, upscale_to_height,
               upscale_crop)
        cached = _upscale_cache.pop(key, None)
        image = cached if cached is not None else upscaler.scaler.upscale(image, upscale_by, upscaler.data_path)
        _upscale_cache[key] = image
        while len(_upscale_cache) > _cache_limit():
            _upscale_cache.popitem(last=False)

        if upscale_mode == 1 and upscale_crop:
            cropped = Image.new("RGB", (upscale_to_width, upscale_to_height))
            cropped.paste(image, box=(upscale_to_width // 2 - image.width // 2, upscale_to_height // 2 - image.height // 2))
            image = cropped
            info["Postprocess crop to"] = f"{image.width}x{image.height}"
        return image

    def process_firstpass(self, pp: Any, upscale_enabled: bool = True, upscale_mode: int = 1,
                          upscale_by: float = 2.0, max_side_length: int = 0, upscale_to_width: int | None = None,
                          upscale_to_height: int | None = None, upscale_crop: bool = False, **_: Any) -> None:
        if upscale_mode == 1:
            pp.shared.target_width = upscale_to_width
            pp.shared.target_height = upscale_to_height
        else:
            pp.shared.target_width, pp.shared.target_height = limit_size_by_one_dimension(
                int(pp.image.width * upscale_by), int(pp.image.height * upscale_by), max_side_length)

    def process(self, pp: Any, upscale_enabled: bool = True, upscale_mode: int = 1,
                upscale_by: float = 2.0, max_side_length: int = 0, upscale_to_width: int | None = None,
                upscale_to_height: int | None = None, upscale_crop: bool = False, upscaler_1_name: str | None = None,
                upscaler_2_name: str | None = None, upscaler_2_visibility: float = 0.0, **_: Any) -> None:
        if not upscale_enabled:
            return
        upscaler1 = _find_upscaler(upscaler_1_name)
        if upscaler1 is None:
            return
        upscaler2 = _find_upscaler(upscaler_2_name)
        args = (upscale_mode, upscale_by, max_side_length or 0, upscale_to_width, upscale_to_height, upscale_crop)
        upscaled = self.upscale(pp.image, pp.info, upscaler1, *args)
        pp.info["Postprocess upscaler"] = upscaler1.name
        if upscaler2 is not None and upscaler_2_visibility > 0:
            second = self.upscale(pp.image, pp.info, upscaler2, *args)
            if upscaled.mode != second.mode:
                second = second.convert(upscaled.mode)
            upscaled = Image.blend(upscaled, second, upscaler_2_visibility)
            pp.info["Postprocess upscaler 2"] = upscaler2.name
        pp.image = upscaled

    def image_changed(self) -> None:
        clear_upscale_cache()


# --- face restoration ---------------------------------------------------------------------------------------

def _restorer(name: str) -> Any:
    registry = current_services().face_restorers
    return registry.find(name) if registry is not None else None


def _blend(original: Image.Image, restored: np.ndarray, visibility: float) -> Image.Image:
    result = Image.fromarray(restored)
    if visibility < 1.0:
        result = Image.blend(original, result, visibility)
    return result


class GFPGANOperation(PostprocessingOperation):
    """GFPGAN face restoration, blended with the input by ``gfpgan_visibility``."""

    name = "GFPGAN"
    order = 2000
    controls = ("enable", "gfpgan_visibility")

    def process(self, pp: Any, enable: bool = True, gfpgan_visibility: float = 0.0, **_: Any) -> None:
        if gfpgan_visibility == 0 or not enable:
            return
        restorer = _restorer("GFPGAN")
        if restorer is None:
            return
        source = pp.image.convert("RGB")
        pp.image = _blend(source, restorer.restore(np.array(source, dtype=np.uint8)), gfpgan_visibility)
        pp.info["GFPGAN visibility"] = round(gfpgan_visibility, 3)


class CodeFormerOperation(PostprocessingOperation):
    """CodeFormer face restoration with its fidelity ``codeformer_weight``, blended by ``codeformer_visibility``."""

    name = "CodeFormer"
    order = 3000
    controls = ("enable", "codeformer_visibility", "codeformer_weight")

    def process(self, pp: Any, enable: bool = True, codeformer_visibility: float = 0.0,
                codeformer_weight: float = 0.0, **_: Any) -> None:
        if codeformer_visibility == 0 or not enable:
            return
        restorer = _restorer("CodeFormer")
        if restorer is None:
            return
        source = pp.image.convert("RGB")
        pp.image = _blend(source, restorer.restore(np.array(source, dtype=np.uint8), w=codeformer_weight),
                          codeformer_visibility)
        pp.info["CodeFormer visibility"] = round(codeformer_visibility, 3)
        pp.info["CodeFormer weight"] = round(codeformer_weight, 3)


# --- the registered operations -------------------------------------------------------------------------------

_operations: list[PostprocessingOperation] = [UpscaleOperation(), GFPGANOperation(), CodeFormerOperation()]


def register_operation(operation: PostprocessingOperation) -> None:
    """Add an operation (an extension's); one with the same name replaces the old one."""
    _operations[:] = [op for op in _operations if op.name != operation.name] + [operation]


def operations() -> list[PostprocessingOperation]:
    """The built-in and registered operations (postprocessing scripts are not among them)."""
    return list(_operations)
