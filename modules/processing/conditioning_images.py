"""The image conditioning inpainting models (9 input channels) get through ``c_concat``.

Other models get ``None`` (no ``c_concat`` at all), so their UNet never sees a dummy tensor.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from modules.processing.depth_conditioning import require_picture
from modules.processing.latents import encode_images
from modules.processing.unclip_conditioning import is_unclip_model, txt2img_unclip_conditioning


def unet_in_channels(model: Any) -> int:
    unet = getattr(getattr(model, "model", None), "diffusion_model", None)
    return int(getattr(unet, "in_channels", 4))


def is_inpainting_model(model: Any) -> bool:
    """SD1/SD2/SDXL inpainting checkpoints: latent + mask + masked-image latent = 9 channels."""
    return unet_in_channels(model) == 9


def is_edit_model(model: Any) -> bool:
    """InstructPix2Pix checkpoints: latent + the edited picture's latent = 8 channels (``cond_stage_key: edit``)."""
    return getattr(model, "cond_stage_key", None) == "edit"


def edit_conditioning(model: Any, source_image: torch.Tensor) -> torch.Tensor:
    """The picture to edit as InstructPix2Pix reads it: the VAE posterior's mode, *without* the latent scale
    factor (as the model was trained; A1111's ``edit_image_conditioning``).  ``source_image`` is in [-1, 1]."""
    vae = model.first_stage_model
    weight = next(vae.parameters())
    posterior = model.encode_first_stage(source_image.to(weight.device, weight.dtype))
    return posterior.mode()


def mask_to_tensor(mask: Image.Image | torch.Tensor, round_mask: bool = True) -> torch.Tensor:
    """An ``L`` mask -> ``[1, 1, H, W]`` in [0, 1] (rounded to 0/1 with ``mask_round``)."""
    if torch.is_tensor(mask):
        return mask
    array = np.asarray(mask.convert("L"), dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array[None, None].copy())
    return torch.round(tensor) if round_mask else tensor


def inpainting_conditioning(model: Any, source_image: torch.Tensor, latent: torch.Tensor,
                            mask: Image.Image | torch.Tensor | None, mask_weight: float,
                            round_mask: bool = True) -> torch.Tensor:
    """``[mask, VAE(image * (1 - mask * w))]`` at latent size (A1111's ``inpainting_image_conditioning``).

    ``source_image`` is in [-1, 1]; ``mask_weight`` is setting ``inpainting_mask_weight``.
    """
    if mask is None:
        cond_mask = source_image.new_ones(1, 1, *source_image.shape[-2:])
    else:
        cond_mask = mask_to_tensor(mask, round_mask).to(source_image.device, source_image.dtype)
    masked = torch.lerp(source_image, source_image * (1.0 - cond_mask), mask_weight)
    encoded = encode_images(model, masked)
    cond_mask = torch.nn.functional.interpolate(cond_mask, size=latent.shape[-2:])
    cond_mask = cond_mask.expand(encoded.shape[0], -1, -1, -1)
    return torch.cat([cond_mask.to(encoded), encoded], dim=1).to(latent.device, latent.dtype)


def txt2img_conditioning(model: Any, x: torch.Tensor, width: int, height: int) -> torch.Tensor | None:
    """For inpainting models: the whole picture masked (an all-grey image and an all-ones mask); for
    InstructPix2Pix: no picture to edit (zeros); for unCLIP: a zero image embedding; else None."""
    if is_edit_model(model):
        return torch.zeros_like(x)
    if is_unclip_model(model):
        return txt2img_unclip_conditioning(model, x)
    require_picture(model)
    if not is_inpainting_model(model):
        return None
    grey = torch.zeros(x.shape[0], 3, height, width, device=x.device)  # 0.5 grey in [-1, 1]
    encoded = encode_images(model, grey)
    return torch.nn.functional.pad(encoded, (0, 0, 0, 0, 1, 0), value=1.0).to(x.dtype)
