"""The parameter objects A1111 hands to the CFG and noise callbacks (``modules.script_callbacks`` names them)
and to ``Script.on_mask_blend``; extensions read and assign their attributes."""
from __future__ import annotations

from typing import Any


class CFGDenoiserParams:
    """``on_cfg_denoiser``: the batched inputs right before the UNet call; callbacks may replace any of them."""

    def __init__(self, x, image_cond, sigma, sampling_step: int, total_sampling_steps: int, text_cond, text_uncond,
                 denoiser: Any = None) -> None:
        self.x = x
        """Latent image representation, cond copies then uncond copies (batch of UNet inputs)."""
        self.image_cond = image_cond
        """Image conditioning (inpainting latents and mask, edit image, depth...) matching ``x``."""
        self.sigma = sigma
        """Noise level of each row of ``x`` (the timestep for DDIM-family samplers)."""
        self.sampling_step = sampling_step
        """Current sampling step."""
        self.total_sampling_steps = total_sampling_steps
        """Total number of sampling steps planned."""
        self.text_cond = text_cond
        """Encoder hidden states of the prompt(s) (a dict with crossattn and vector for SDXL)."""
        self.text_uncond = text_uncond
        """Encoder hidden states of the negative prompt."""
        self.denoiser = denoiser
        """The CFG denoiser object making the call."""


class CFGDenoisedParams:
    """``on_cfg_denoised``: the UNet outputs before they are combined."""

    def __init__(self, x, sampling_step: int, total_sampling_steps: int, inner_model: Any) -> None:
        self.x = x
        self.sampling_step = sampling_step
        self.total_sampling_steps = total_sampling_steps
        self.inner_model = inner_model


class AfterCFGCallbackParams:
    """``on_cfg_after_cfg``: the combined (guided, mask-blended) prediction; ``x`` may be replaced."""

    def __init__(self, x, sampling_step: int, total_sampling_steps: int) -> None:
        self.x = x
        self.sampling_step = sampling_step
        self.total_sampling_steps = total_sampling_steps


class ExtraNoiseParams:
    """``on_extra_noise``: img2img's extra noise before it is added (``noise`` may be replaced)."""

    def __init__(self, noise, x, xi) -> None:
        self.noise = noise
        self.x = x
        self.xi = xi


class MaskBlendArgs:
    """``Script.on_mask_blend``: the inpainting blend of the current latent with the original one."""

    def __init__(self, current_latent, nmask, init_latent, mask, blended_latent, denoiser: Any = None,
                 sigma: Any = None) -> None:
        self.current_latent = current_latent
        self.nmask = nmask
        self.init_latent = init_latent
        self.mask = mask
        self.blended_latent = blended_latent
        self.denoiser = denoiser
        self.is_final_blend = denoiser is None
        self.sigma = sigma
