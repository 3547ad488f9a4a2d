"""Live previews: the running job's latest latent shown as a small picture ("Approx cheap").

The sampler hands each step's predicted latent to :func:`store_latent` (wired as
``SamplingEnv.store_latent``), which only keeps a reference.  Progress requests decode it on
demand, at most every ``show_progress_every_n_steps`` steps, with a fixed linear map from the
latent channels to RGB per model family (4, or 16 for SD3): microseconds of work on the requesting thread,
so the worker never waits for previews.  The picture is latent-sized (an eighth of the image).
"""
from __future__ import annotations

from typing import Any

from modules.core.services import current_services
from modules.processing import image_saver

SD_LATENT_TO_RGB = (
    (0.298, 0.207, 0.208),
    (0.187, 0.286, 0.173),
    (-0.158, 0.189, 0.264),
    (-0.184, -0.271, -0.473),
)
"""Rows: latent channels 0-3 of SD1/SD2; columns: R, G, B (A1111's cheap approximation)."""

SDXL_LATENT_TO_RGB = (
    (0.3448, 0.4168, 0.4395),
    (-0.1953, -0.0290, 0.0250),
    (0.1074, 0.0886, -0.0163),
    (-0.3730, -0.2499, -0.2088),
)
"""The same for SDXL's VAE latent space."""

SD3_LATENT_TO_RGB = (
    (-0.0645, 0.0177, 0.1052), (0.0028, 0.0312, 0.0650), (0.1848, 0.0762, 0.0360), (0.0944, 0.0360, 0.0889),
    (0.0897, 0.0506, -0.0364), (-0.0020, 0.1203, 0.0284), (0.0855, 0.0118, 0.0283), (-0.0539, 0.0658, 0.1047),
    (-0.0057, 0.0116, 0.0700), (-0.0412, 0.0281, -0.0039), (0.1106, 0.1171, 0.1220), (-0.0248, 0.0682, -0.0481),
    (0.0815, 0.0846, 0.1207), (-0.0120, -0.0055, -0.0867), (-0.0749, -0.0634, -0.0456), (-0.1418, -0.1457, -0.1259),
)
"""SD3's 16 latent channels to RGB (A1111 1.10's cheap approximation for SD3)."""


def _opts() -> Any:
    return current_services().opts


def store_latent(latent: Any, state: Any = None) -> None:
    """Keep the latest latent of the running job in ``state`` (default: the installed services' job state);
    the sampler calls it after each denoiser call."""
    if state is None:
        state = current_services().state
    if state is not None:
        state.current_latent = latent


def preview_due(step: int, last_step: int, none_yet: bool) -> bool:
    """Whether a new preview should be decoded: previews on (``live_previews_enable``) and at least
    ``show_progress_every_n_steps`` steps since the last one (-1 = never)."""
    opts = _opts()
    if opts is None or not getattr(opts, "live_previews_enable", True):
        return False
    every = int(getattr(opts, "show_progress_every_n_steps", 10))
    if every == -1:
        return False
    return none_yet or step - last_step >= every


def latent_rgb_matrix(model: Any = None) -> tuple[tuple[float, float, float], ...]:
    """The latent-to-RGB coefficients for ``model`` (default: the loaded one)."""
    if model is None:
        model = current_services().sd_model
    if getattr(model, "is_sd3", False):
        return SD3_LATENT_TO_RGB
    return SDXL_LATENT_TO_RGB if getattr(model, "is_sdxl", False) else SD_LATENT_TO_RGB


_NOTICES: set[str] = set()


def _decode_with(kind: str, x: Any, model: Any) -> Any:
    """``(B, 3, H, W)`` in [0, 1] with the chosen preview method, or None to use Approx cheap."""
    paths = current_services().paths
    if kind == "Full" and model is not None:
        decoded = model.decode_first_stage(x.to(model.device, next(model.first_stage_model.parameters()).dtype))
        return ((decoded.float().cpu() + 1) / 2).clamp(0, 1)
    if kind in ("Approx NN", "TAESD") and paths is not None:
        # torch on first use: the job queue imports this module on the API start path
        from modules.models.preview_decoders import load_preview_decoder, preview_file

        is_sdxl, is_sd3 = bool(getattr(model, "is_sdxl", False)), bool(getattr(model, "is_sd3", False))
        decoder = load_preview_decoder(kind, paths.models_dir, is_sdxl, is_sd3)
        if decoder is not None:
            return decoder(x).cpu()
        path = preview_file(kind, paths.models_dir, is_sdxl, is_sd3)
        if path not in _NOTICES:
            _NOTICES.add(path)
            print(f"Live preview: {kind} needs {path}, which is not there (nothing is downloaded); "
                  "showing Approx cheap previews instead", flush=True)
    return None


def latent_to_preview(latent: Any, model: Any = None) -> Any:
    """A PIL picture of ``latent`` (``(B, C, H, W)`` or ``(C, H, W)``); a grid of the batch with setting
    ``show_progress_grid``, else its first image.  None when the latent's channels are not the model's
    (4, or 16 for SD3)."""
    # heavy imports on first use: the job queue imports this module on the API start path
    import numpy as np
    import torch
    from PIL import Image

    with torch.no_grad():
        x = latent.detach().float().cpu()
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if model is None:
            model = current_services().sd_model
        if x.dim() != 4 or x.shape[1] != len(latent_rgb_matrix(model)):
            return None
        opts = _opts()
        kind = getattr(opts, "show_progress_type", "Approx cheap") if opts is not None else "Approx cheap"
        decoded = _decode_with(kind, x, model) if kind != "Approx cheap" else None
        if decoded is not None:
            rgb = decoded.permute(0, 2, 3, 1)
        else:
            coeffs = torch.tensor(latent_rgb_matrix(model), dtype=x.dtype)
            rgb = torch.einsum("bchw,cr->bhwr", x, coeffs)
            rgb = torch.clamp((rgb + 1.0) / 2.0, 0.0, 1.0)
        arrays = (rgb.numpy() * 255.0).round().astype(np.uint8)
    images = [Image.fromarray(a) for a in arrays]
    opts = _opts()
    if len(images) > 1 and getattr(opts, "show_progress_grid", True):
        return image_saver.image_grid(current_services(), images)
    return images[0]
