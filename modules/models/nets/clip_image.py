"""The CLIP image towers SD2 unCLIP checkpoints carry at ``embedder.model`` (A1111's unCLIP-L / unCLIP-H YAMLs).

unCLIP-L's ``ClipImageEmbedder`` holds OpenAI's whole ``ViT-L/14`` (both towers; only the image tower runs),
unCLIP-H's ``FrozenOpenCLIPImageEmbedder`` holds open_clip's ``ViT-H-14`` with the text transformer deleted
(its token embedding, ``ln_final`` and projection stay, and are in the file).  Attribute paths are those of
the released modules (``visual.conv1``, ``visual.transformer.resblocks.N.attn.in_proj_weight``, ...), so the
checkpoint loads as it is.  OpenAI's blocks use QuickGELU, open_clip's ViT-H plain GELU.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modules.models.attention import AttentionStrategy, SdpaAttention

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

IMAGE_ARCHS: dict[str, dict[str, int | bool]] = {
    # OpenAI ViT-L/14, text tower kept (clip.load)
    "ViT-L/14": dict(width=1024, layers=24, heads=16, patch=14, image_size=224, embed_dim=768,
                     text_width=768, text_layers=12, text_heads=12, quick_gelu=True),
    # open_clip ViT-H-14 (head width 80), text transformer deleted
    "ViT-H-14": dict(width=1280, layers=32, heads=16, patch=14, image_size=224, embed_dim=1024,
                     text_width=1024, text_layers=0, text_heads=16, quick_gelu=False),
}
"""The ``model`` / ``arch`` names the unCLIP YAMLs give, with their sizes."""


class QuickGELU(nn.Module):
    """OpenAI's sigmoid approximation of GELU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class _Attention(nn.Module):
    """Multi-head attention under ``nn.MultiheadAttention``'s parameter names."""

    def __init__(self, width: int, heads: int, attention: AttentionStrategy | None) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        self.attention = attention or SdpaAttention()
        if not self.in_proj_weight.is_meta:
            nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        return self.out_proj(self.attention(q, k, v, self.heads, causal=causal))


class ResidualAttentionBlock(nn.Module):
    """Pre-norm attention and an MLP (``mlp.c_fc``, ``mlp.c_proj``)."""

    def __init__(self, width: int, heads: int, quick_gelu: bool, attention: AttentionStrategy | None) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = _Attention(width, heads, attention)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, width * 4))
        self.mlp.add_module("gelu", QuickGELU() if quick_gelu else nn.GELU())
        self.mlp.add_module("c_proj", nn.Linear(width * 4, width))

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), causal)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """``resblocks.N``, batch first."""

    def __init__(self, width: int, layers: int, heads: int, quick_gelu: bool,
                 attention: AttentionStrategy | None) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads, quick_gelu, attention)
                                       for _ in range(layers))

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, causal)
        return x


class VisionTransformer(nn.Module):
    """Patches, class token, blocks, the class token's projection (``visual.*``)."""

    def __init__(self, width: int, layers: int, heads: int, patch: int, image_size: int, embed_dim: int,
                 quick_gelu: bool, attention: AttentionStrategy | None = None) -> None:
        super().__init__()
        grid = image_size // patch
        self.image_size = image_size
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads, quick_gelu, attention)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, embed_dim))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.conv1(pixels.to(self.conv1.weight.dtype)).flatten(2).transpose(1, 2)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0, :]) @ self.proj


class ClipImageModel(nn.Module):
    """A CLIP model as the unCLIP file holds it: ``visual`` plus the text tower's parts that were kept."""

    def __init__(self, width: int, layers: int, heads: int, patch: int, image_size: int, embed_dim: int,
                 text_width: int, text_layers: int, text_heads: int, quick_gelu: bool,
                 context_length: int = 77, vocab_size: int = 49408,
                 attention: AttentionStrategy | None = None) -> None:
        super().__init__()
        self.visual = VisionTransformer(width, layers, heads, patch, image_size, embed_dim, quick_gelu, attention)
        if text_layers:
            # never run: held so the file's text tower loads (and saves) as it is
            self.transformer = Transformer(text_width, text_layers, text_heads, quick_gelu, attention)
        self.token_embedding = nn.Embedding(vocab_size, text_width)
        self.positional_embedding = nn.Parameter(torch.zeros(context_length, text_width))
        self.ln_final = nn.LayerNorm(text_width)
        self.text_projection = nn.Parameter(torch.zeros(text_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.zeros([]))


def _gaussian_kernel(size: int, sigma: float, device: torch.device) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - size // 2
    if size % 2 == 0:
        x = x + 0.5
    kernel = torch.exp(-x.pow(2) / (2.0 * sigma ** 2))
    return kernel / kernel.sum()


def _blur(x: torch.Tensor, kernel_h: torch.Tensor, kernel_w: torch.Tensor) -> torch.Tensor:
    channels = x.shape[1]
    ph, pw = kernel_h.numel() // 2, kernel_w.numel() // 2
    x = F.pad(x, (pw, pw, ph, ph), mode="reflect")
    x = F.conv2d(x, kernel_h.view(1, 1, -1, 1).expand(channels, 1, -1, 1).to(x.dtype), groups=channels)
    return F.conv2d(x, kernel_w.view(1, 1, 1, -1).expand(channels, 1, 1, -1).to(x.dtype), groups=channels)


def antialiased_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """kornia's ``resize(..., interpolation='bicubic', align_corners=True, antialias=True)``, which the unCLIP
    embedders call: a Gaussian blur sized by the shrink factor (only when shrinking), then bicubic."""
    factors = (x.shape[-2] / size[0], x.shape[-1] / size[1])
    if max(factors) > 1:
        sigmas = [max((f - 1.0) / 2.0, 0.001) for f in factors]
        sizes = [int(max(4.0 * s, 3)) for s in sigmas]
        sizes = [s + 1 if s % 2 == 0 else s for s in sizes]
        x = _blur(x, _gaussian_kernel(sizes[0], sigmas[0], x.device), _gaussian_kernel(sizes[1], sigmas[1], x.device))
    return F.interpolate(x, size=size, mode="bicubic", align_corners=True)


class ClipImageEmbedder(nn.Module):
    """``embedder``: a picture in [-1, 1] -> its CLIP image embedding ``[batch, embed_dim]``."""

    def __init__(self, arch: str = "ViT-L/14", attention: AttentionStrategy | None = None,
                 **sizes: int | bool) -> None:
        super().__init__()
        if arch not in IMAGE_ARCHS:
            raise ValueError(f"unknown CLIP image model {arch!r}; known: {sorted(IMAGE_ARCHS)}")
        self.arch = arch
        self.model = ClipImageModel(**{**IMAGE_ARCHS[arch], **sizes}, attention=attention)
        self.register_buffer("mean", torch.tensor(CLIP_MEAN), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD), persistent=False)

    def init_buffers(self, device: torch.device | str) -> None:
        """Non-persistent buffers (not in the file), rebuilt after a meta build."""
        self.mean = torch.tensor(CLIP_MEAN, device=device)
        self.std = torch.tensor(CLIP_STD, device=device)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Resize to the tower's input (antialiased bicubic), [-1, 1] -> [0, 1], CLIP's normalisation."""
        size = self.model.visual.image_size
        x = antialiased_resize(x.float(), (size, size))
        x = (x + 1.0) / 2.0
        return (x - self.mean.float()[None, :, None, None]) / self.std.float()[None, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.visual(self.preprocess(x)).to(x.dtype)

