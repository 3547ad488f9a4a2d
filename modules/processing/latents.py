"""Latents to images and back: VAE decode with A1111's NaN guard, encode of init images, latent resizing."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from modules.models.nets.autoencoder import DiagonalGaussian


class NansException(RuntimeError):
    """NaNs came out of the text encoder, the UNet or the VAE (A1111's ``devices.NansException``).

    ``stage`` names where they were found: ``"text encoder"``, ``"unet"`` or ``"vae"``.
    """

    def __init__(self, message: str, stage: str = "") -> None:
        super().__init__(message)
        self.stage = stage


STAGE_NAMES = {"unet": "Unet", "vae": "VAE", "text encoder": "the text encoder"}
"""How each stage is written in the message (A1111 writes ``Unet`` and ``VAE``)."""


def test_for_nans(x: torch.Tensor, where: str) -> None:
    """Raise :class:`NansException` naming ``where`` when ``x`` has a NaN anywhere, in any batch item.

    A1111 looks at one element of the first batch item only, so a NaN uncond (the second half of a
    CFG batch) went on unseen until the picture came out black; this looks at every element.
    """
    nans = torch.isnan(x)
    if not nans.any():
        return
    stage = STAGE_NAMES.get(where)
    count, total = int(nans.sum()), nans.numel()
    if count == total:
        message = f"A tensor with all NaNs was produced in {stage}." if stage else "A tensor with all NaNs was produced."
    else:
        where_text = f" in {stage}" if stage else ""
        message = f"A tensor with NaNs ({count} of {total} values) was produced{where_text}."
    if x.ndim >= 4 and x.shape[0] > 1:
        rows = [i for i in range(x.shape[0]) if nans[i].any()]
        message += f" Batch rows with NaNs: {', '.join(map(str, rows))} of {x.shape[0]}."
    message += " Use --disable-nan-check commandline argument to disable this check."
    raise NansException(message, where)


def _tensors_in(value: Any, depth: int = 0):
    """Every tensor inside a conditioning structure (tensors, lists, tuples, dicts, prompting's records)."""
    if depth > 8:
        return
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors_in(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors_in(item, depth + 1)
    elif hasattr(value, "__dict__") and type(value).__module__.startswith("modules.prompting"):
        yield from _tensors_in(vars(value), depth + 1)


def test_conds_for_nans(conds: Any) -> None:
    """Raise :class:`NansException` naming the text encoder when any tensor of ``conds`` has a NaN."""
    for tensor in _tensors_in(conds):
        if tensor.is_floating_point():
            test_for_nans(tensor, "text encoder")


def decode_first_stage(model: Any, x: torch.Tensor) -> torch.Tensor:
    """One VAE decode in the VAE's dtype."""
    vae = getattr(model, "first_stage_model", None)
    dtype = next(vae.parameters()).dtype if isinstance(vae, torch.nn.Module) else x.dtype
    return model.decode_first_stage(x.to(dtype))


def decode_latent_batch(model: Any, batch: torch.Tensor, target_device: torch.device | None = None,
                        check_for_nans: bool = False) -> list[torch.Tensor]:
    """Decode each latent on its own (bounded memory); NaNs retry in fp32 once when the VAE is half (A1111)."""
    samples = []
    for i in range(batch.shape[0]):
        sample = decode_first_stage(model, batch[i:i + 1])[0]
        if check_for_nans:
            try:
                test_for_nans(sample, "vae")
            except NansException:
                vae = model.first_stage_model
                if next(vae.parameters()).dtype == torch.float32:
                    raise
                vae.to(torch.float32)
                sample = decode_first_stage(model, batch[i:i + 1].float())[0]
                test_for_nans(sample, "vae")
        samples.append(sample.to(target_device) if target_device is not None else sample)
    return samples


def encode_images(model: Any, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Images in [-1, 1] -> scaled latents (both SD and SDXL model kinds).

    SD1/SD2 encoders give a posterior to sample: ``generator`` makes that sample repeatable (img2img seeds it
    from the job's seed, so the same request gives the same picture).
    """
    vae = model.first_stage_model
    dtype = next(vae.parameters()).dtype
    encoded = model.encode_first_stage(images.to(model.device, dtype))
    if generator is not None and isinstance(encoded, DiagonalGaussian):
        return model.get_first_stage_encoding(encoded, generator).float()
    return model.get_first_stage_encoding(encoded).float()


def pil_to_tensor(images: list[Image.Image]) -> torch.Tensor:
    """RGB pictures -> a ``[N, 3, H, W]`` tensor in [-1, 1]."""
    arrays = [np.moveaxis(np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0, 2, 0) for im in images]
    return torch.from_numpy(np.stack(arrays)) * 2.0 - 1.0


def tensor_to_pil(x: torch.Tensor) -> list[Image.Image]:
    """``[N, 3, H, W]`` in [0, 1] -> pictures."""
    arrays = (255.0 * np.moveaxis(x.float().cpu().numpy(), 1, 3)).round().clip(0, 255).astype(np.uint8)
    return [Image.fromarray(a) for a in arrays]


def resize_latent(latent: torch.Tensor, height: int, width: int, mode: str = "bilinear", antialias: bool = False) -> torch.Tensor:
    """Resize latents to ``height`` x ``width`` latent pixels (hires fix's latent upscalers)."""
    kwargs = {"antialias": antialias} if mode in ("bilinear", "bicubic") else {}
    if mode in ("bilinear", "bicubic"):
        kwargs["align_corners"] = False
    return torch.nn.functional.interpolate(latent, size=(height, width), mode=mode, **kwargs)
