"""Preview pictures during training: one txt2img run with the trained prompt or the txt2img tab's settings.

Like A1111, the preview saves nothing by itself (no samples, no grid), reloads no embeddings (the one in
training is live in memory) and runs no extra networks (the hypernetwork in training stays hooked);
the caller saves the picture into the log's ``images`` folder.  Torch's random state is restored
afterwards so a preview does not change what training draws next.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from modules.core.services import Services
from modules.processing import image_saver
from modules.processing.pipeline import process_images
from modules.processing.txt2img import StableDiffusionProcessingTxt2Img
from modules.sampling.registry import samplers_map


@dataclass
class PreviewSettings:
    """The txt2img settings read when "Read parameters ... from txt2img tab" is on (A1111's ``preview_*``)."""

    prompt: str = ""
    negative_prompt: str = ""
    steps: int = 20
    sampler_name: str = "Euler a"
    cfg_scale: float = 7.0
    seed: int = -1
    width: int = 512
    height: int = 512


@dataclass
class Preview:
    image: Image.Image
    infotext: str
    seed: int
    prompt: str
    p: Any


def preview_processing(services: Services, prompt: str, training_width: int, training_height: int,
                       settings: PreviewSettings | None) -> StableDiffusionProcessingTxt2Img:
    """The txt2img job of a preview: 20 steps of the training prompt at the training size, or ``settings``."""
    p = StableDiffusionProcessingTxt2Img(sd_model=services.sd_model, services=services, do_not_save_grid=True,
                                         do_not_save_samples=True, do_not_reload_embeddings=True)
    p.disable_extra_networks = True
    if settings is not None:
        p.prompt = settings.prompt
        p.negative_prompt = settings.negative_prompt
        p.steps = int(settings.steps)
        p.sampler_name = samplers_map.get(str(settings.sampler_name).lower(), settings.sampler_name)
        p.cfg_scale = float(settings.cfg_scale)
        p.seed = int(settings.seed)
        p.width = int(settings.width)
        p.height = int(settings.height)
    else:
        p.prompt = prompt
        p.steps = 20
        p.width = int(training_width)
        p.height = int(training_height)
    return p


def make_preview(services: Services, prompt: str, training_width: int, training_height: int,
                 settings: PreviewSettings | None) -> Preview | None:
    """Run the preview job; None when it made no picture (interrupted)."""
    rng_state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    p = preview_processing(services, prompt, training_width, training_height, settings)
    try:
        processed = process_images(p)
    finally:
        torch.set_rng_state(rng_state)
        if cuda_state is not None:
            torch.cuda.set_rng_state_all(cuda_state)
        p.close()
    if not processed.images:
        return None
    return Preview(processed.images[0], processed.infotexts[0], p.seed if isinstance(p.seed, int) else processed.seed,
                   p.prompt, p)


def save_preview(services: Services, preview: Preview, images_dir: str, forced_filename: str) -> str:
    """Save into ``images_dir`` as ``<forced_filename>.<samples_format>`` with its infotext; returns the path."""
    path, _ = image_saver.save_image(services, preview.image, images_dir, "", preview.seed, preview.prompt,
                                     services.opts.samples_format, info=preview.infotext, p=preview.p,
                                     forced_filename=forced_filename, save_to_dirs=False)
    return path
