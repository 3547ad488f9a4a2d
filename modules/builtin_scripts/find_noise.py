"""Finding the noise that Euler would turn into a given latent: Euler's steps run backwards, from sigma 0 up to
the largest sigma of the model (A1111's ``img2imgalt`` "find noise for image"), and the cache of the last result.

Sigmas are the model's own discrete schedule (``get_sigmas(steps)`` reversed); the prediction at each step is
guided as in sampling, ``uncond + (cond - uncond) * cfg_scale``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from modules.core.services import current_services
from modules.processing.live_preview import store_latent
from modules.sampling.cond_ops import catenate_conds, cond_tokens
from modules.sampling.denoisers import DiscreteVDenoiser, make_kdiffusion_denoiser
from modules.sampling.environment import InterruptedException
from modules.sampling.sampler_math import append_dims


def _cond_dict(cond: Any, image_conditioning: torch.Tensor | None) -> Any:
    """The ``cond`` argument of ``apply_model``: text conditioning plus the image conditioning when there is one."""
    if isinstance(cond, dict):
        return {**cond, "c_concat": [image_conditioning]} if image_conditioning is not None else cond
    result: dict[str, Any] = {"c_crossattn": [cond]}
    if image_conditioning is not None:
        result["c_concat"] = [image_conditioning]
    return result


def _predict_x0(dnw: Any, x: torch.Tensor, scaling_sigma: torch.Tensor, t: torch.Tensor, cond: Any,
                image_conditioning: torch.Tensor | None) -> torch.Tensor:
    """The denoised latent, with the input scalings of ``scaling_sigma`` and the network called at timestep ``t``
    (the two differ on the first step of the sigma-adjusted search)."""
    scalings = [append_dims(k, x.ndim) for k in dnw.get_scalings(scaling_sigma)]
    out = dnw.inner_model.apply_model(x * scalings[-1], t, cond=_cond_dict(cond, image_conditioning))
    if isinstance(dnw, DiscreteVDenoiser):
        c_skip, c_out, _c_in = scalings
        return x * c_skip + out * c_out
    c_out, _c_in = scalings
    return x + out * c_out


def _guided_x0(dnw: Any, x: torch.Tensor, scaling_sigma: torch.Tensor, t: torch.Tensor, cond: Any, uncond: Any,
               cfg_scale: float, image_conditioning: torch.Tensor | None) -> torch.Tensor:
    """``uncond + (cond - uncond) * cfg_scale``: one network call for both halves when their token counts agree."""
    if cond_tokens(cond) == cond_tokens(uncond):
        image_in = torch.cat([image_conditioning] * 2) if image_conditioning is not None else None
        both = _predict_x0(dnw, torch.cat([x] * 2), torch.cat([scaling_sigma] * 2), torch.cat([t] * 2),
                           catenate_conds([uncond, cond]), image_in)
        denoised_uncond, denoised_cond = both.chunk(2)
    else:
        denoised_uncond = _predict_x0(dnw, x, scaling_sigma, t, uncond, image_conditioning)
        denoised_cond = _predict_x0(dnw, x, scaling_sigma, t, cond, image_conditioning)
    return denoised_uncond + (denoised_cond - denoised_uncond) * cfg_scale


def _progress(step: int, steps: int, latent: torch.Tensor) -> None:
    state = current_services().state
    if state is not None:
        state.sampling_steps = steps
        state.sampling_step = step
        if state.interrupted:
            raise InterruptedException
    store_latent(latent, state)


def find_noise_for_image(model: Any, init_latent: torch.Tensor, cond: Any, uncond: Any, cfg_scale: float,
                         steps: int, image_conditioning: torch.Tensor | None = None,
                         sigma_adjustment: bool = False) -> torch.Tensor:
    """The noise (unit variance) from which ``steps`` Euler steps at ``cfg_scale`` lead back to ``init_latent``.

    With ``sigma_adjustment`` each step's prediction uses the previous (smaller) sigma, the first step the
    timestep of the next one, and the result is divided by the largest sigma instead of its own std (a variant
    suggested in A1111 issue 736).
    """
    dnw = make_kdiffusion_denoiser(model)
    x = init_latent
    s_in = x.new_ones([x.shape[0]])
    sigmas = dnw.get_sigmas(steps).flip(0).to(x.device)
    for i in range(1, len(sigmas)):
        if sigma_adjustment:
            scaling_sigma = sigmas[i - 1] * s_in
            t = dnw.sigma_to_t(sigmas[i] * s_in if i == 1 else scaling_sigma)
        else:
            scaling_sigma = sigmas[i] * s_in
            t = dnw.sigma_to_t(scaling_sigma)
        denoised = _guided_x0(dnw, x, scaling_sigma, t, cond, uncond, cfg_scale, image_conditioning)
        if sigma_adjustment:
            d = (x - denoised) / (2 * sigmas[i] if i == 1 else sigmas[i - 1])
        else:
            d = (x - denoised) / sigmas[i]
        x = x + d * (sigmas[i] - sigmas[i - 1])
        _progress(i, steps, x)
    if sigma_adjustment:
        return x / sigmas[-1]
    std = x.std()
    # a constant result (a constant latent the model leaves alone) has no spread to normalise: A1111 divides 0 by 0
    return x / std if std > 0 else x


@dataclass
class CachedNoise:
    """The last found noise and what it was found for (A1111's ``Cached``)."""

    noise: torch.Tensor
    cfg_scale: float
    steps: int
    latent: np.ndarray
    original_prompt: str
    original_negative_prompt: str
    sigma_adjustment: bool

    def matches(self, cfg_scale: float, steps: int, latent: np.ndarray, original_prompt: str,
                original_negative_prompt: str, sigma_adjustment: bool) -> bool:
        """Same settings and a latent within A1111's tolerance (sum of |10x differences| below 100)."""
        return (self.cfg_scale == cfg_scale and self.steps == steps and self.original_prompt == original_prompt
                and self.original_negative_prompt == original_negative_prompt
                and self.sigma_adjustment == sigma_adjustment and self.latent.shape == latent.shape
                and int(np.abs(self.latent - latent).sum()) < 100)


def latent_fingerprint(latent: torch.Tensor) -> np.ndarray:
    """The latent as integers at a tenth of a unit, what the cache compares."""
    return (latent.detach().float().cpu().numpy() * 10).astype(int)
