"""The processing layer, also A1111's ``modules.processing`` import path.

The A1111 names (``StableDiffusionProcessingTxt2Img``, ``process_images``,
``Processed``, ``create_infotext`` ...) are looked up lazily on first access, so
importing a submodule such as ``modules.processing.infotext`` stays light.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "StableDiffusionProcessing": "processing_base",
    "GenerationError": "processing_base",
    "opt_C": ("processing_base", "OPT_C"),
    "opt_f": ("processing_base", "OPT_F"),
    "StableDiffusionProcessingTxt2Img": "txt2img",
    "StableDiffusionProcessingImg2Img": "img2img",
    "Processed": "processed",
    "process_images": "pipeline",
    "process_images_inner": "pipeline",
    "create_infotext": "job_infotext",
    "decode_latent_batch": "latents",
    "decode_first_stage": "latents",
    "apply_overlay": "overlay",
    "create_random_tensors": "rng",
    "get_fixed_seed": "rng",
    "fix_seed": "rng",
    "slerp": "rng",
    "txt2img_image_conditioning": ("conditioning_images", "txt2img_conditioning"),
}


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'modules.processing' has no attribute {name!r}")
    module_name, attr = (target, name) if isinstance(target, str) else target
    value = getattr(importlib.import_module(f"modules.processing.{module_name}"), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
