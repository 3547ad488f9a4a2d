"""The depth map SD2-depth models read through ``c_concat`` (A1111's ``depth2img_image_conditioning``).

The init picture goes through MiDaS's transform for DPT-Hybrid (``AddMiDaS``: resized, aspect kept, to
the sides nearest 384 that are multiples of 32, whichever scale is closer to 1, bicubic; then to
[-1, 1]); the model's ``depth_model`` estimates depth; the map is resized (bicubic) to the latent and
stretched to [-1, 1] by its own minimum and maximum.  Only the first picture of the batch is used, for
every batch item, as in A1111.
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch

from modules.processing.errors import GenerationError

MIDAS_SIZE = 384
MIDAS_MULTIPLE = 32


def is_depth_model(model: Any) -> bool:
    """SD2-depth checkpoints: they carry a MiDaS ``depth_model``."""
    return getattr(model, "depth_model", None) is not None


def midas_size(width: int, height: int) -> tuple[int, int]:
    """MiDaS ``Resize(384, 384, keep_aspect_ratio, ensure_multiple_of=32, resize_method="minimal")``."""
    scale_w, scale_h = MIDAS_SIZE / width, MIDAS_SIZE / height
    scale = scale_w if abs(1 - scale_w) < abs(1 - scale_h) else scale_h
    return (int(np.round(scale * width / MIDAS_MULTIPLE) * MIDAS_MULTIPLE),
            int(np.round(scale * height / MIDAS_MULTIPLE) * MIDAS_MULTIPLE))


def midas_input(source_image: torch.Tensor) -> torch.Tensor:
    """``(1, 3, h, w)`` MiDaS input from one picture ``(3, H, W)`` in [-1, 1] (A1111's ``AddMiDaS``)."""
    picture = ((source_image.detach().float().cpu() + 1.0) * 0.5).permute(1, 2, 0).numpy()
    width, height = midas_size(picture.shape[1], picture.shape[0])
    resized = cv2.resize(picture, (width, height), interpolation=cv2.INTER_CUBIC)
    normalised = (resized - 0.5) / 0.5
    return torch.from_numpy(np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32))[None]


def depth_conditioning(model: Any, source_image: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
    """``(batch, 1, h, w)`` depth in [-1, 1] at the latent's size, from the first picture of ``source_image``."""
    depth_model = model.depth_model
    weight = next(depth_model.parameters())
    midas_in = midas_input(source_image[0]).to(weight.device, weight.dtype)
    with torch.no_grad():
        depth = depth_model(midas_in).float()
    depth = torch.nn.functional.interpolate(depth, size=latent.shape[2:], mode="bicubic", align_corners=False)
    low, high = torch.aminmax(depth)
    # a flat map (no depth to read) stays flat: A1111 divides by zero here and samples from NaN
    depth = 2.0 * (depth - low) / (high - low) - 1.0 if high > low else torch.zeros_like(depth)
    return depth.expand(latent.shape[0], -1, -1, -1).to(latent.device, latent.dtype)


def require_picture(model: Any) -> None:
    """txt2img with a depth model: there is no picture to take depth from (A1111 fails here too)."""
    if is_depth_model(model):
        raise GenerationError("this checkpoint is an SD2-depth model: it needs an init image, use img2img")
