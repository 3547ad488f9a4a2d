"""A1111's ``modules.upscaler_utils`` import path (running a network over a picture, tiled or whole)."""
from __future__ import annotations

from typing import Any

from PIL import Image

from modules.postprocess.tiling import (  # noqa: F401
    bgr_tensor_to_pil as torch_bgr_to_pil_image,
    pil_to_bgr_tensor,
    tiled_upscale_tensor,
    upscale_pil_patch,
    upscale_with_model,
)


def pil_image_to_torch_bgr(img: Image.Image) -> Any:
    """3xHxW BGR float tensor in [0, 1] (no batch dimension, as A1111's function)."""
    return pil_to_bgr_tensor(img)[0]


def upscale_without_tiling(model: Any, img: Image.Image) -> Image.Image:
    return upscale_pil_patch(model, img)


def tiled_upscale_2(img: Any, model: Any, *, tile_size: int, tile_overlap: int, scale: int, device: Any = None,
                    desc: str = "Tiled upscale") -> Any:
    """Tensor-space tiling averaging the overlaps (SwinIR, ScuNET)."""
    return tiled_upscale_tensor(img, model, tile_size=tile_size, tile_overlap=tile_overlap, scale=scale)
