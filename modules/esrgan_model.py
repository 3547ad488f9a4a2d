"""A1111's ``modules.esrgan_model`` import path."""
from __future__ import annotations

from typing import Any

from PIL import Image

from modules.postprocess.model_upscalers import UpscalerESRGAN  # noqa: F401


def esrgan_upscale(model: Any, img: Image.Image) -> Image.Image:
    """Upscale with the ESRGAN tile settings (``ESRGAN_tile``, ``ESRGAN_tile_overlap``)."""
    from modules import shared
    from modules.postprocess.tiling import upscale_with_model

    return upscale_with_model(model, img, tile_size=int(getattr(shared.opts, "ESRGAN_tile", 192)),
                              tile_overlap=int(getattr(shared.opts, "ESRGAN_tile_overlap", 8)))
