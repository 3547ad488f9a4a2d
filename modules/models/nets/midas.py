"""MiDaS DPT-Hybrid, the depth estimator inside SD2-depth checkpoints (``depth_model.model.*``).

Module paths are MiDaS's ``DPTDepthModel`` (``pretrained.model`` is timm's ViT-B/16 with a ResNet-50
stem, ``pretrained.act_postprocess*``, ``scratch.*``), so the checkpoint's keys load as they are.
The ViT is timm's own module tree (A1111's MiDaS builds it with timm too); the readout, reassembly
and fusion parts are written here.  :meth:`DPTHybrid.forward` takes the picture as MiDaS's
transform prepares it (``[-1, 1]``, sides multiples of 32) and returns relative inverse depth.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

VIT_TAPS = (8, 11)
"""The transformer blocks whose outputs become the two deepest feature maps (MiDaS hooks ``[0, 1, 8, 11]``:
the ResNet stages 0 and 1, then these blocks)."""
PATCH = 16


class ProjectReadout(nn.Module):
    """Tokens joined with the class token, projected back to the width (MiDaS ``readout="project"``)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(2 * width, width), nn.GELU())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        patches = tokens[:, 1:]
        readout = tokens[:, :1].expand_as(patches)
        return self.project(torch.cat([patches, readout], dim=-1))


class ResidualConvUnit(nn.Module):
    """ReLU, 3x3 conv, ReLU, 3x3 conv, plus the input (MiDaS ``ResidualConvUnit_custom`` without BN)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    """Adds the skip (through a residual unit), refines, doubles the size, 1x1 out (``FeatureFusionBlock_custom``)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(features, features, 1)
        self.resConfUnit1 = ResidualConvUnit(features)
        self.resConfUnit2 = ResidualConvUnit(features)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = F.interpolate(self.resConfUnit2(x), scale_factor=2, mode="bilinear", align_corners=True)
        return self.out_conv(x)


class _Upsample2x(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


def make_vit_hybrid(width: int = 768, depth: int = 12, heads: int = 12, stage_blocks: Sequence[int] = (3, 4, 9),
                    stem: int = 64, img_size: int = 384) -> nn.Module:
    """timm's ``vit_base_r50_s16_384`` (defaults) or a narrower one of the same layout (tests)."""
    from functools import partial

    from timm.layers import StdConv2dSame
    from timm.models.resnetv2 import ResNetV2
    from timm.models.vision_transformer import VisionTransformer
    from timm.models.vision_transformer_hybrid import HybridEmbed

    # channels per ResNet stage: 4x the stem width, doubling (256, 512, 1024 for the released model)
    channels = tuple(stem * 4 * 2 ** i for i in range(len(stage_blocks)))
    backbone = ResNetV2(layers=tuple(stage_blocks), channels=channels, num_classes=0, global_pool="", preact=False,
                        stem_type="same", stem_chs=stem, conv_layer=partial(StdConv2dSame, eps=1e-8))
    return VisionTransformer(img_size=img_size, patch_size=1, embed_dim=width, depth=depth, num_heads=heads,
                             embed_layer=partial(HybridEmbed, backbone=backbone))


class DPTHybrid(nn.Module):
    """MiDaS v3 DPT-Hybrid (``DPTDepthModel(backbone="vitb_rn50_384", non_negative=True)``)."""

    def __init__(self, vit: nn.Module | None = None, features: int = 256) -> None:
        super().__init__()
        vit = vit if vit is not None else make_vit_hybrid()
        width = vit.embed_dim
        stages = vit.patch_embed.backbone.stages
        early = [stages[0].blocks[-1].conv3.out_channels, stages[1].blocks[-1].conv3.out_channels]
        self.pretrained = nn.Module()
        self.pretrained.model = vit
        # the two ResNet maps pass through unchanged: MiDaS's Identity placeholders have no weights
        self.pretrained.act_postprocess1 = nn.Sequential(nn.Identity(), nn.Identity(), nn.Identity())
        self.pretrained.act_postprocess2 = nn.Sequential(nn.Identity(), nn.Identity(), nn.Identity())
        # readout, transpose, unflatten (placeholders kept so the conv indices match), then convs
        self.pretrained.act_postprocess3 = nn.Sequential(
            ProjectReadout(width), nn.Identity(), nn.Identity(), nn.Conv2d(width, width, 1))
        self.pretrained.act_postprocess4 = nn.Sequential(
            ProjectReadout(width), nn.Identity(), nn.Identity(), nn.Conv2d(width, width, 1),
            nn.Conv2d(width, width, 3, stride=2, padding=1))
        self.scratch = nn.Module()
        for i, channels in enumerate([*early, width, width], start=1):
            setattr(self.scratch, f"layer{i}_rn", nn.Conv2d(channels, features, 3, padding=1, bias=False))
            setattr(self.scratch, f"refinenet{i}", FusionBlock(features))
        self.scratch.output_conv = nn.Sequential(
            nn.Conv2d(features, features // 2, 3, padding=1), _Upsample2x(),
            nn.Conv2d(features // 2, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 1, 1), nn.ReLU(), nn.Identity())

    def _pos_embed(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """The position table resized (bilinear) to the picture's patch grid (MiDaS ``_resize_pos_embed``)."""
        table = self.pretrained.model.pos_embed
        cls, grid = table[:, :1], table[0, 1:]
        old = int(math.sqrt(grid.shape[0]))
        grid = grid.reshape(1, old, old, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(grid_h, grid_w), mode="bilinear")
        return torch.cat([cls, grid.permute(0, 2, 3, 1).reshape(1, grid_h * grid_w, -1)], dim=1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four maps the decoder fuses: 1/4, 1/8, 1/16 and 1/32 of the picture."""
        vit = self.pretrained.model
        backbone = vit.patch_embed.backbone
        grid_h, grid_w = x.shape[-2] // PATCH, x.shape[-1] // PATCH
        h = backbone.stem(x)
        layer1 = backbone.stages[0](h)
        layer2 = backbone.stages[1](layer1)
        h = backbone.norm(backbone.stages[2](layer2))
        tokens = vit.patch_embed.proj(h).flatten(2).transpose(1, 2)
        tokens = torch.cat([vit.cls_token.expand(x.shape[0], -1, -1), tokens], dim=1) + self._pos_embed(grid_h, grid_w)
        taps = []
        for i, block in enumerate(vit.blocks):
            tokens = block(tokens)
            if i in VIT_TAPS:
                taps.append(tokens)
        maps = []
        for tokens, post in zip(taps, (self.pretrained.act_postprocess3, self.pretrained.act_postprocess4)):
            h = post[0](tokens).transpose(1, 2).unflatten(2, (grid_h, grid_w))
            maps.append(post[3:](h))
        return [layer1, layer2, *maps]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scratch
        l1, l2, l3, l4 = (getattr(s, f"layer{i}_rn")(f) for i, f in enumerate(self.features(x), start=1))
        path = s.refinenet4(l4)
        path = s.refinenet3(path, l3)
        path = s.refinenet2(path, l2)
        path = s.refinenet1(path, l1)
        return s.output_conv(path).squeeze(1)


class MiDaSInference(nn.Module):
    """``depth_model``: the DPT at ``model``; ``forward`` gives ``(b, 1, h, w)`` depth at the input's size."""

    def __init__(self, model: DPTHybrid | None = None) -> None:
        super().__init__()
        self.model = model if model is not None else DPTHybrid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prediction = self.model(x)
        return F.interpolate(prediction.unsqueeze(1), size=x.shape[2:], mode="bicubic", align_corners=False)
