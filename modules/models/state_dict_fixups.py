"""Key fix-ups at the load boundary: literal tables from foreign layouts to our module tree.

Everything here works on a ``{key: tensor}`` mapping (real, meta or lazy) and
never touches tensor data except the VAE attention reshape, which is a view.
"""
from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import torch

# Old transformers versions saved CLIPTextModel without the ``text_model`` level.
SD1_CLIP_RENAMES: tuple[tuple[str, str], ...] = tuple(
    (f"cond_stage_model.transformer.{part}.", f"cond_stage_model.transformer.text_model.{part}.")
    for part in ("embeddings", "encoder", "final_layer_norm"))

# SD2-Turbo and similar are saved in SGM layout with the SD2 text tower as embedder 0.
SD2_SGM_PREFIX = ("conditioner.embedders.0.", "cond_stage_model.")
SD2_SGM_PROBE = "conditioner.embedders.0.model.ln_final.weight"

DROPPED_PREFIXES: tuple[str, ...] = (
    "model_ema.",          # EMA copies (and model_ema.decay / num_updates)
    "loss.",               # VAE training losses and discriminators
    "lora_te_", "lora_unet_",  # LoRA weights baked into some merges
    "embedding_manager.",  # textual-inversion training state
    "control_model.",      # ControlNet weights merged into a checkpoint
)
"""Key prefixes that hold training state or add-ons, never weights of our networks."""

DROPPED_KEYS: frozenset[str] = frozenset({
    # DDPM schedule buffers: recomputed from the config (alphas_cumprod is read separately).
    "betas", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
    "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
    "logvar", "lvlb_weights", "denoiser.sigmas", "denoiser.log_sigmas",
    # Non-persistent in current libraries, rebuilt after loading.
    "cond_stage_model.transformer.text_model.embeddings.position_ids",
    "conditioner.embedders.0.transformer.text_model.embeddings.position_ids",
    # CLIP's contrastive temperature: not used for conditioning.
    "cond_stage_model.model.logit_scale",
    "conditioner.embedders.0.model.logit_scale",
    "conditioner.embedders.1.model.logit_scale",
    "cond_stage_model.model.attn_mask",
    "conditioner.embedders.0.model.attn_mask",
    "conditioner.embedders.1.model.attn_mask",
})
"""Exact keys found in real checkpoints that our modules deliberately do not have."""

SCHEDULE_KEY = "alphas_cumprod"

VAE_CONV_ATTENTION_SUFFIXES = tuple(
    f"mid.attn_1.{name}.weight" for name in ("q", "k", "v", "proj_out"))


def unwrap_state_dict(loaded: Any) -> dict[str, Any]:
    """Return the tensor mapping of a loaded checkpoint (Lightning nests it under ``state_dict``)."""
    while isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict):
        raise ValueError(f"checkpoint holds a {type(loaded).__name__}, not a state dict")
    return loaded


def rename_keys(sd: MutableMapping[str, Any]) -> None:
    """Apply the prefix renames in place (SD1 CLIP layout, SD2 in SGM layout)."""
    probe = sd.get(SD2_SGM_PROBE)
    if probe is not None and tuple(_shape(probe)) == (1024,):
        _rename_prefix(sd, *SD2_SGM_PREFIX)
    for old, new in SD1_CLIP_RENAMES:
        _rename_prefix(sd, old, new)


def _rename_prefix(sd: MutableMapping[str, Any], old: str, new: str) -> None:
    for key in [k for k in sd if k.startswith(old)]:
        sd[new + key[len(old):]] = sd.pop(key)


def is_dropped(key: str) -> bool:
    return key in DROPPED_KEYS or key.startswith(DROPPED_PREFIXES)


def drop_extras(sd: MutableMapping[str, Any]) -> list[str]:
    """Remove known non-network keys in place; returns the removed keys."""
    removed = [k for k in sd if is_dropped(k)]
    for key in removed:
        del sd[key]
    return removed


def reshape_vae_attention(sd: MutableMapping[str, Any], prefix: str = "first_stage_model.") -> None:
    """VAE attention saved as linear ``[C, C]`` (diffusers-era exports) -> 1x1 conv ``[C, C, 1, 1]``."""
    for key in list(sd):
        if key.startswith(prefix) and key.endswith(VAE_CONV_ATTENTION_SUFFIXES):
            value = sd[key]
            if isinstance(value, torch.Tensor) and value.ndim == 2:
                sd[key] = value[:, :, None, None]


def _shape(value: Any) -> tuple[int, ...]:
    """Shape of a tensor, a ``(dtype, shape)`` header entry or a bare shape tuple."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return tuple(value[1])
    return tuple(value)


def fix_state_dict(sd: MutableMapping[str, Any]) -> torch.Tensor | None:
    """All fix-ups in order; returns the checkpoint's ``alphas_cumprod`` if it had one."""
    rename_keys(sd)
    schedule = sd.pop(SCHEDULE_KEY, None)
    drop_extras(sd)
    reshape_vae_attention(sd)
    return schedule if isinstance(schedule, torch.Tensor) else None
