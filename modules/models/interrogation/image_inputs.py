"""Pictures as the interrogators' networks take them (A1111's torchvision transforms, done with PIL)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _normalised(image: Image.Image) -> torch.Tensor:
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    pixels = torch.from_numpy(array).permute(2, 0, 1)
    mean, std = torch.tensor(CLIP_MEAN)[:, None, None], torch.tensor(CLIP_STD)[:, None, None]
    return ((pixels - mean) / std).unsqueeze(0)


def blip_pixels(image: Image.Image, size: int) -> torch.Tensor:
    """BLIP's input: stretched to ``size`` x ``size`` (bicubic), normalised with CLIP's mean and deviation."""
    return _normalised(image.convert("RGB").resize((size, size), Image.BICUBIC))


def clip_pixels(image: Image.Image, size: int) -> torch.Tensor:
    """CLIP's input: shorter side to ``size`` (bicubic), centre crop, normalised (``clip.load``'s transform)."""
    image = image.convert("RGB")
    w, h = image.size
    if w <= h:
        new_w, new_h = size, int(size * h / w)
    else:
        new_w, new_h = int(size * w / h), size
    image = image.resize((new_w, new_h), Image.BICUBIC)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    return _normalised(image.crop((left, top, left + size, top + size)))
