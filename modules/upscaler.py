"""A1111's ``modules.upscaler`` import path (extensions subclass ``Upscaler`` from here)."""
from modules.postprocess.upscaler import (  # noqa: F401
    LANCZOS,
    NEAREST,
    Upscaler,
    UpscalerData,
    UpscalerLanczos,
    UpscalerNearest,
    UpscalerNone,
    UpscalerUnavailable,
)
