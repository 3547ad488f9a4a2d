"""Which model a checkpoint is, from its keys and tensor shapes (A1111's config detection).

The rules are one ordered table (first match wins, as in A1111 1.10.1).  Input
is a ``{key: shape}`` table, built by :func:`shape_table` from real tensors,
meta tensors or a safetensors header, so detection never needs the weights.
The one data-dependent case, SD2 eps vs v, is settled by :mod:`v_probe` when
real tensors are at hand.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
SDXL_TEXT2 = "conditioner.embedders.1.model.ln_final.weight"
SSD_PROBE_KEY = "model.diffusion_model.middle_block.1.transformer_blocks.0.attn1.to_q.weight"
"""A1111's ``is_ssd`` test: an SDXL checkpoint without this key is SSD-1B (Segmind's pruned SDXL)."""
XLMR_WORDS = "cond_stage_model.roberta.embeddings.word_embeddings.weight"
SD2_TEXT = "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight"


@dataclass(frozen=True)
class Check:
    """``key`` present, and if ``dim`` is set, ``shape[dim] == value``; with ``absent``, ``key`` missing."""

    key: str
    dim: int | None = None
    value: int | None = None
    absent: bool = False

    def holds(self, shapes: Mapping[str, tuple[int, ...]]) -> bool:
        shape = shapes.get(self.key)
        if self.absent:
            return shape is None
        if shape is None:
            return False
        if self.dim is None:
            return True
        return len(shape) > self.dim and shape[self.dim] == self.value


@dataclass(frozen=True)
class Rule:
    family: str
    config: str | None  # bundled YAML; None means we recognise it but do not support it
    checks: tuple[Check, ...]
    v_probe: bool = False  # SD2 non-inpainting: eps or v decided by running the UNet


FLUX_PROBE = "model.diffusion_model.double_blocks.0.img_attn.qkv.weight"
FLUX_GUIDANCE = "model.diffusion_model.guidance_in.in_layer.weight"
"""Flux.1: dev has the guidance (distilled CFG) embedder, schnell does not."""

RULES: tuple[Rule, ...] = (
    Rule("flux-dev", "flux1-inference.yaml", (Check(FLUX_PROBE), Check(FLUX_GUIDANCE))),
    Rule("flux-schnell", "flux1-inference.yaml", (Check(FLUX_PROBE),)),
    Rule("sd3", "sd3-inference.yaml", (Check("model.diffusion_model.x_embedder.proj.weight"),)),
    Rule("sdxl-inpaint", "sd_xl_inpaint.yaml",
         (Check(SDXL_TEXT2), Check(UNET_IN, 1, 9))),
    # SSD-1B: A1111 builds it from the SDXL base YAML and prunes the UNet (is_ssd, models/ssd.py).
    Rule("ssd-1b", "sd_xl_base.yaml", (Check(SDXL_TEXT2), Check(SSD_PROBE_KEY, absent=True))),
    Rule("sdxl", "sd_xl_base.yaml", (Check(SDXL_TEXT2),)),
    Rule("sdxl-refiner", "sd_xl_refiner.yaml", (Check("conditioner.embedders.0.model.ln_final.weight"),)),
    Rule("sd2-depth", "v2-midas-inference.yaml",
         (Check("depth_model.model.pretrained.act_postprocess3.0.project.0.bias"),)),
    Rule("sd2-unclip-l", "v2-1-stable-unclip-l-inference.yaml", (Check("embedder.model.ln_final.weight", 0, 768),)),
    Rule("sd2-unclip-h", "v2-1-stable-unclip-h-inference.yaml", (Check("embedder.model.ln_final.weight", 0, 1024),)),
    Rule("sd2-inpaint", "v2-inpainting-inference.yaml", (Check(SD2_TEXT, 1, 1024), Check(UNET_IN, 1, 9))),
    Rule("sd2-v", "v2-inference-v.yaml", (Check(SD2_TEXT, 1, 1024),), v_probe=True),
    Rule("sd1-inpaint", "v1-inpainting-inference.yaml", (Check(UNET_IN, 1, 9),)),
    Rule("instruct-pix2pix", "instruct-pix2pix.yaml", (Check(UNET_IN, 1, 8),)),
    # AltDiffusion: m18 (alt-diffusion-m18-inference.yaml) when the projection is 1024 wide, else m9
    Rule("alt-diffusion-m18", "alt-diffusion-m18-inference.yaml",
         (Check(XLMR_WORDS), Check("cond_stage_model.transformation.weight", 0, 1024))),
    Rule("alt-diffusion", "alt-diffusion-inference.yaml", (Check(XLMR_WORDS),)),
    Rule("sd1", "v1-inference.yaml", ()),
)

SD2_EPS_CONFIG = "v2-inference.yaml"


@dataclass(frozen=True)
class Detection:
    family: str
    config: str | None
    reason: str
    v_probe: bool = False


def shape_table(source: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` from tensors (real or meta), ``(dtype, shape)`` header entries or shapes."""
    table = {}
    for key, value in source.items():
        if isinstance(value, torch.Tensor):
            table[key] = tuple(value.shape)
        elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
            table[key] = tuple(value[1])
        elif isinstance(value, tuple) and all(isinstance(d, int) for d in value):
            table[key] = value
    return table


def detect(shapes: Mapping[str, tuple[int, ...]]) -> Detection:
    """First matching rule.  For SD2 the answer is v-prediction until a probe says otherwise."""
    for rule in RULES:
        if all(check.holds(shapes) for check in rule.checks):
            keys = ", ".join(("no " if c.absent else "") + c.key + ("" if c.dim is None else f"[{c.dim}]={c.value}")
                             for c in rule.checks)
            reason = f"matched {rule.family} by {keys}" if keys else "no family-specific keys: SD1 default"
            if rule.v_probe:
                reason += " (eps/v by UNet probe; v assumed when only shapes are known)"
            return Detection(rule.family, rule.config, reason, rule.v_probe)
    raise AssertionError("the last rule always matches")


def yaml_next_to(checkpoint: str | Path) -> Path | None:
    """``model.safetensors`` -> ``model.yaml`` if that file exists (it always wins)."""
    candidate = Path(checkpoint).with_suffix(".yaml")
    return candidate if candidate.is_file() else None
