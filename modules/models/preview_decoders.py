"""Live-preview decoders besides the full VAE: "Approx NN" (A1111's small convolutional net) and TAESD.

Weights are read only from the models folders (``models/VAE-approx/model.pt``,
``vaeapprox-sdxl.pt`` or ``vaeapprox-sd3.pt``; ``models/VAE-taesd/taesd_decoder.pth``,
``taesdxl_decoder.pth`` or ``taesd3_decoder.pth``; SD3's take 16 latent channels).
Nothing is downloaded: when a file is missing, :func:`load_preview_decoder` returns None
and the caller falls back to "Approx cheap" with a notice.
"""
from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

APPROX_FILES = {"sd": "model.pt", "sdxl": "vaeapprox-sdxl.pt", "sd3": "vaeapprox-sd3.pt"}
TAESD_FILES = {"sd": "taesd_decoder.pth", "sdxl": "taesdxl_decoder.pth", "sd3": "taesd3_decoder.pth"}


class VAEApprox(nn.Module):
    """A1111's "Approx NN": eight 2-D convolutions with leaky ReLU on a 2x nearest-upscaled latent."""

    def __init__(self, latent_channels: int = 4) -> None:
        super().__init__()
        widths = [(latent_channels, 8, 7), (8, 16, 5), (16, 32, 3), (32, 64, 3), (64, 32, 3), (32, 16, 3),
                  (16, 8, 3), (8, 3, 3)]
        for i, (cin, cout, k) in enumerate(widths, start=1):
            setattr(self, f"conv{i}", nn.Conv2d(cin, cout, (k, k)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        extra = 11  # the convolutions shrink the picture by 22 pixels; pad so it keeps 2x the latent size
        x = nn.functional.interpolate(x, (x.shape[2] * 2, x.shape[3] * 2))
        x = nn.functional.pad(x, (extra, extra, extra, extra))
        for i in range(1, 9):
            x = nn.functional.leaky_relu(getattr(self, f"conv{i}")(x), 0.1)
        return x


def _conv(n_in: int, n_out: int, **kwargs: Any) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class _Clamp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class _Block(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(n_in, n_out), nn.ReLU(), _conv(n_out, n_out), nn.ReLU(), _conv(n_out, n_out))
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.conv(x) + self.skip(x))


def taesd_decoder(latent_channels: int = 4) -> nn.Sequential:
    """TAESD's decoder (Bohan Ou's tiny autoencoder); its ``Sequential`` indices are the weight file's keys."""
    layers: list[nn.Module] = [_Clamp(), _conv(latent_channels, 64), nn.ReLU()]
    for _ in range(3):
        layers += [_Block(64, 64), _Block(64, 64), _Block(64, 64), nn.Upsample(scale_factor=2),
                   _conv(64, 64, bias=False)]
    layers += [_Block(64, 64), _conv(64, 3)]
    return nn.Sequential(*layers)


class PreviewDecoder:
    """A loaded preview network and how to turn its output into [0, 1] RGB."""

    def __init__(self, kind: str, net: nn.Module) -> None:
        self.kind = kind
        self.net = net.eval().requires_grad_(False)

    @torch.no_grad()
    def __call__(self, latent: torch.Tensor) -> torch.Tensor:
        """``(B, 4, h, w)`` UNet-space latents -> ``(B, 3, H, W)`` in [0, 1]."""
        param = next(self.net.parameters())
        out = self.net(latent.to(param.device, param.dtype)).float()
        if self.kind == "Approx NN":
            out = out * 0.5 + 0.5  # the approximation predicts pictures in [-1, 1]
        return out.clamp(0, 1)


def preview_file(kind: str, models_dir: str, is_sdxl: bool, is_sd3: bool = False) -> str:
    """Where the weights of ``kind`` for the model family are read from."""
    family = "sd3" if is_sd3 else ("sdxl" if is_sdxl else "sd")
    if kind == "Approx NN":
        return os.path.join(models_dir, "VAE-approx", APPROX_FILES[family])
    return os.path.join(models_dir, "VAE-taesd", TAESD_FILES[family])


_CACHE: dict[str, PreviewDecoder] = {}


def load_preview_decoder(kind: str, models_dir: str, is_sdxl: bool, is_sd3: bool = False) -> PreviewDecoder | None:
    """The decoder for ``kind`` ("Approx NN" or "TAESD"), or None when its weights are not on disk."""
    path = preview_file(kind, models_dir, is_sdxl, is_sd3)
    if path in _CACHE:
        return _CACHE[path]
    if not os.path.isfile(path):
        return None
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    channels = 16 if is_sd3 else 4
    net = VAEApprox(channels) if kind == "Approx NN" else taesd_decoder(channels)
    net.load_state_dict(state, strict=True)
    _CACHE[path] = PreviewDecoder(kind, net)
    return _CACHE[path]
