"""The DDPM noise schedule shared by SD1, SD2 and SDXL (LDM's "linear" schedule)."""
from __future__ import annotations

import torch


def make_alphas_cumprod(linear_start: float = 0.00085, linear_end: float = 0.012,
                        timesteps: int = 1000) -> torch.Tensor:
    """Cumulative product of alphas for betas linear in sqrt space; computed in fp64, returned fp32."""
    betas = torch.linspace(linear_start ** 0.5, linear_end ** 0.5, timesteps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0).to(torch.float32)
