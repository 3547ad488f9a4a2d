"""A1111's ``modules.esrgan_model`` import path."""
from __future__ import annotations

from typing import Any

from PIL import Image

from modules.core.services import current_services
from modules.postprocess.model_upscalers import UpscalerESRGAN  # noqa: F401
from modules.postprocess.tiling import upscale_with_model


def esrgan_upscale(model: Any, img: Image.Image) -> Image.Image:
    """Upscale with the ESRGAN tile settings (``ESRGAN_tile``, ``ESRGAN_tile_overlap``)."""
    opts = current_services().opts
    return upscale_with_model(model, img, tile_size=int(getattr(opts, "ESRGAN_tile", 192)),
                              tile_overlap=int(getattr(opts, "ESRGAN_tile_overlap", 8)))
