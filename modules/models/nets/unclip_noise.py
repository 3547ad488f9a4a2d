"""SD2 unCLIP's ``noise_augmentor`` (LDM's ``CLIPEmbeddingNoiseAugmentation``): noises a CLIP image embedding
at a chosen level and embeds that level; the UNet reads ``[noised embedding | level embedding]`` as ``y``.

The schedule buffers (``betas``, ``alphas_cumprod``, ...) are persistent and in the checkpoint.  The
embedding's data mean and std are not (non-persistent in LDM): unCLIP-L's YAML reads them from Karlo's
``ViT-L-14_stats.th`` (A1111 ships it in ``models/karlo``), unCLIP-H's YAML names no file (zeros and ones).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from modules.models.nets.common import timestep_embedding

def squaredcos_cap_v2_betas(timesteps: int = 1000, max_beta: float = 0.999) -> torch.Tensor:
    """The Karlo prior's cosine schedule (LDM's ``make_beta_schedule('squaredcos_cap_v2')``), in fp64."""
    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    return torch.tensor([min(1 - alpha_bar((i + 1) / timesteps) / alpha_bar(i / timesteps), max_beta)
                         for i in range(timesteps)], dtype=torch.float64)


_SCHEDULES = {"squaredcos_cap_v2": squaredcos_cap_v2_betas}


class CLIPEmbeddingNoiseAugmentation(nn.Module):
    """``forward(x, noise_level)`` -> ``(noised x, level embedding)``, both ``[batch, timestep_dim]``."""

    def __init__(self, timestep_dim: int, timesteps: int = 1000, beta_schedule: str = "squaredcos_cap_v2",
                 max_noise_level: int = 1000, clip_stats_path: str | None = None) -> None:
        super().__init__()
        if beta_schedule not in _SCHEDULES:
            raise ValueError(f"beta_schedule {beta_schedule!r} is not supported; known: {sorted(_SCHEDULES)}")
        self.timestep_dim = timestep_dim
        self.max_noise_level = max_noise_level
        self.clip_stats_path = clip_stats_path
        """The stats file's path as the YAML gives it (its name is what is looked up in ``models/karlo``)."""
        self.beta_schedule = beta_schedule
        self.num_timesteps = timesteps
        for name, value in self.schedule_buffers().items():
            self.register_buffer(name, value)
        self.register_buffer("data_mean", torch.zeros(1, timestep_dim), persistent=False)
        self.register_buffer("data_std", torch.ones(1, timestep_dim), persistent=False)
        self.stats_loaded = clip_stats_path is None

    def schedule_buffers(self) -> dict[str, torch.Tensor]:
        """The persistent buffers LDM's ``register_schedule`` computes (fp64, stored fp32)."""
        betas = _SCHEDULES[self.beta_schedule](self.num_timesteps)
        cumprod = torch.cumprod(1.0 - betas, dim=0)
        prev = torch.cat([cumprod.new_ones(1), cumprod[:-1]])
        values = dict(betas=betas, alphas_cumprod=cumprod, alphas_cumprod_prev=prev,
                      sqrt_alphas_cumprod=cumprod.sqrt(), sqrt_one_minus_alphas_cumprod=(1.0 - cumprod).sqrt(),
                      log_one_minus_alphas_cumprod=(1.0 - cumprod).log(),
                      sqrt_recip_alphas_cumprod=(1.0 / cumprod).sqrt(),
                      sqrt_recipm1_alphas_cumprod=(1.0 / cumprod - 1).sqrt())
        return {k: v.to(torch.float32) for k, v in values.items()}

    def set_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """The embedding's data mean and std (Karlo's stats file), each ``[timestep_dim]``."""
        if mean.numel() != self.timestep_dim or std.numel() != self.timestep_dim:
            raise ValueError(f"CLIP stats have {mean.numel()} / {std.numel()} values, the model needs "
                             f"{self.timestep_dim}")
        self.data_mean = mean.detach().reshape(1, -1).to(torch.float32)
        self.data_std = std.detach().reshape(1, -1).to(torch.float32)
        self.stats_loaded = True

    def init_buffers(self, device: torch.device | str) -> None:
        """After a meta build: zeros/ones unless stats were set (then only moved)."""
        if self.data_mean.is_meta:
            self.data_mean = torch.zeros(1, self.timestep_dim, device=device)
            self.data_std = torch.ones(1, self.timestep_dim, device=device)

    def forward(self, x: torch.Tensor, noise_level: torch.Tensor,
                noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = self.data_mean.to(x), self.data_std.to(x)
        scaled = (x - mean) / std
        if noise is None:
            noise = torch.randn_like(scaled)
        a = self.sqrt_alphas_cumprod.to(x.device)[noise_level].to(x.dtype)[:, None]
        b = self.sqrt_one_minus_alphas_cumprod.to(x.device)[noise_level].to(x.dtype)[:, None]
        noised = (a * scaled + b * noise) * std + mean
        return noised, timestep_embedding(noise_level, self.timestep_dim).to(x.dtype)
