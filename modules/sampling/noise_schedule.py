"""Per-generation overrides of the model's DDPM schedule ``alphas_cumprod`` (settings ``use_downcasted_alpha_bar``
and ``sd_noise_schedule``), applied before the sigmas are derived from it."""
from __future__ import annotations

from typing import Any

import torch

from modules.sampling.settings import setting

# Lin et al. (2024) set the last alpha_bar to exactly 0; A1111 keeps this tiny value instead so that the largest
# sigma stays finite (sigma = sqrt((1 - a) / a)) and k-diffusion samplers can still start from it.
ZERO_TERMINAL_SNR_LAST_ALPHA_BAR = 4.8973451890853435e-08


def rescale_zero_terminal_snr(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """Algorithm 1 of Lin et al. (2024), "Common Diffusion Noise Schedules and Sample Steps are Flawed"
    (arXiv:2305.08891): shift and scale sqrt(alpha_bar) so the last timestep has zero SNR, keeping the first."""
    alphas_bar_sqrt = alphas_cumprod.sqrt()
    first = alphas_bar_sqrt[0].clone()
    last = alphas_bar_sqrt[-1].clone()
    alphas_bar_sqrt = (alphas_bar_sqrt - last) * (first / (first - last))
    alphas_bar = alphas_bar_sqrt ** 2
    alphas_bar[-1] = ZERO_TERMINAL_SNR_LAST_ALPHA_BAR
    return alphas_bar


def effective_alphas_cumprod(alphas_cumprod: torch.Tensor, opts: Any,
                             infotext: dict[str, Any] | None = None) -> torch.Tensor:
    """The schedule sampling uses: fp16-rounded with ``use_downcasted_alpha_bar`` (to reproduce seeds from before
    1.8), rescaled with ``sd_noise_schedule`` = ``Zero Terminal SNR``; records the infotext keys it applied."""
    alphas = alphas_cumprod
    if setting(opts, "use_downcasted_alpha_bar"):
        if infotext is not None:
            infotext["Downcast alphas_cumprod"] = True
        alphas = alphas.half()
    if setting(opts, "sd_noise_schedule") == "Zero Terminal SNR":
        if infotext is not None:
            infotext["Noise Schedule"] = "Zero Terminal SNR"
        alphas = rescale_zero_terminal_snr(alphas)
    return alphas
