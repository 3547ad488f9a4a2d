"""A1111's ``modules.realesrgan_model`` import path."""
from __future__ import annotations

from typing import Any

from modules.postprocess.model_upscalers import REALESRGAN_BUILTIN, UpscalerRealESRGAN  # noqa: F401
from modules.postprocess.upscaler import UpscalerData


def get_realesrgan_models(scaler: Any) -> list[UpscalerData]:
    """All six named Real-ESRGAN entries for ``scaler`` (A1111's function)."""
    return [UpscalerData(name, url, scaler, scale) for name, url, scale in REALESRGAN_BUILTIN]
