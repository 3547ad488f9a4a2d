"""Checkpoint file -> ready model: read, fix keys, pick the config, build on ``meta``, assign weights.

Building on the meta device skips random initialisation entirely; the
checkpoint's tensors (memory-mapped, or read straight onto the GPU) become the
parameters through ``load_state_dict(assign=True)``, so the only copies made are
the dtype casts the precision plan asks for.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modules.models.alt_diffusion_files import alt_diffusion_family, attach_xlmr_tokenizer
from modules.models.attention import AttentionStrategy, SdpaAttention, set_attention
from modules.models.checkpoint_io import CheckpointError, read_checkpoint, read_shapes
from modules.models.config_registry import build_from_config
from modules.models.detection import SD2_EPS_CONFIG, Detection, detect, shape_table, yaml_next_to
from modules.models.flux_files import adopt_stored_fp8, prepare_flux_weights
from modules.models.fp8_storage import Fp8Settings, store_fp8
from modules.models.gguf_files import GGUFContents, arch_group, check_parts, config_anchor, group_of_family
from modules.models.gguf_files import install_packed, is_gguf_file, missing_parts_error, read_gguf, read_modules
from modules.models.midas_weights import add_midas_weights, cast_depth_model
from modules.models.model_config import bundled_config, read_config
from modules.models.precision import DtypePlan, PrecisionOptions, apply_dtypes, plan_dtypes
from modules.models.sd3_files import prepare_sd3_weights
from modules.models.sd_model import StableDiffusionBase
from modules.models.ssd import apply_ssd_layout
from modules.models.unclip_stats import cast_image_embedder, load_clip_stats
from modules.models.state_dict_fixups import fix_state_dict, unwrap_state_dict
from modules.models.v_probe import is_v_prediction

log = logging.getLogger(__name__)


@dataclass
class LoadOptions:
    """How to load.  ``allow_unsafe`` is ``--disable-safe-unpickle``; ``config`` forces a YAML."""

    device: str | torch.device = "cpu"
    precision: PrecisionOptions = field(default_factory=PrecisionOptions)
    allow_unsafe: bool = False
    config: str | Path | None = None
    attention: AttentionStrategy | None = None
    v_probe: bool = True
    compute_device: str | torch.device | None = None
    """The device the dtypes are planned for, when the weights load elsewhere first (the memory manager)."""
    fp8: Fp8Settings = field(default_factory=Fp8Settings)
    """Settings ``fp8_storage`` / ``cache_fp16_weight``."""
    text_encoder_dir: str | Path | None = None
    """``models/CLIP``: SD3's text encoders for a checkpoint without them (``clip_l.safetensors``, ...)."""
    enable_t5: bool = False
    """Setting ``sd3_enable_t5``: build SD3's T5-XXL encoder (read at load time, as A1111)."""
    midas_dir: str | Path | None = None
    """``models/midas``: MiDaS's own file for an SD2-depth checkpoint without depth weights."""
    additional_modules: list[str] = field(default_factory=list)
    """Setting ``forge_additional_modules``: the text encoder / VAE files of a GGUF diffusion model."""
    karlo_dir: str | Path | None = None
    """``models/karlo``: unCLIP-L's CLIP embedding statistics (``ViT-L-14_stats.th``)."""
    xlmr_dir: str | Path | None = None
    """``models/xlm-roberta-large``: AltDiffusion's tokenizer (``tokenizer.json``)."""


@dataclass(frozen=True)
class ConfigChoice:
    path: Path
    family: str
    reason: str


def read_state_dict(path: str | Path, device: str | torch.device = "cpu",
                    allow_unsafe: bool = False) -> tuple[dict[str, Any], torch.Tensor | None]:
    """The file's network tensors with our key names, and its ``alphas_cumprod`` if present."""
    sd = unwrap_state_dict(read_checkpoint(path, device, allow_unsafe))
    sd = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    alphas = fix_state_dict(sd)
    return sd, alphas


def choose_config(checkpoint: str | Path, sd: MutableMapping[str, Any], forced: str | Path | None = None,
                  run_probe: bool = True) -> ConfigChoice:
    """The YAML for a checkpoint: forced, else ``<name>.yaml`` beside it, else detected from shapes.

    ``sd`` is the fixed-up state dict (real or meta tensors) or a shape table.
    """
    if forced is not None:
        return ConfigChoice(Path(forced), "custom", "config given explicitly")
    beside = yaml_next_to(checkpoint)
    if beside is not None:
        return ConfigChoice(beside, "custom", f"{beside.name} next to the checkpoint")
    found: Detection = detect(shape_table(sd))
    if found.config is None:
        raise CheckpointError(f"{checkpoint}: recognised as {found.family}, which this web UI does not support")
    config, reason = found.config, found.reason
    if found.v_probe:
        if run_probe and _has_real_tensors(sd):
            v = is_v_prediction(sd)
            config = found.config if v else SD2_EPS_CONFIG
            reason = f"{reason}; probe says {'v' if v else 'eps'}"
        else:
            reason = f"{reason}; no weights to probe, assuming v-prediction"
    return ConfigChoice(bundled_config(config), found.family, reason)


def _has_real_tensors(sd: MutableMapping[str, Any]) -> bool:
    return any(isinstance(v, torch.Tensor) and not v.is_meta for v in sd.values())


def build_on_meta(config_path: str | Path, attention: AttentionStrategy | None = None,
                  shapes: Mapping[str, tuple[int, ...]] | None = None) -> StableDiffusionBase:
    """The untrained model a YAML describes, with every tensor on ``meta`` (no init cost); ``shapes`` of the
    checkpoint give the sizes a YAML leaves to the file (SD3)."""
    config = read_config(config_path)
    with torch.device("meta"):
        model = build_from_config(config, str(config_path), attention or SdpaAttention(), shapes)
    model.config_path = str(config_path)
    return model


def assign_weights(model: nn.Module, sd: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Make the state dict's tensors the model's parameters; missing keys are an error.

    Keys the model does not have (after the fix-up tables) are logged and
    skipped, as A1111 tolerates them; missing ones would leave weights unset.
    """
    expected = model.state_dict(keep_vars=True).keys()
    missing = [k for k in expected if k not in sd]
    if missing:
        raise CheckpointError(
            f"{source}: {len(missing)} weight(s) missing for config {getattr(model, 'config_path', '?')}, "
            f"e.g. {missing[:5]}")
    unexpected = [k for k in sd if k not in expected]
    if unexpected:
        log.warning("%s: ignoring %d unknown key(s), e.g. %s", source, len(unexpected), unexpected[:5])
        sd = {k: v for k, v in sd.items() if k in expected}
    try:
        model.load_state_dict(sd, strict=True, assign=True)
    except RuntimeError as e:
        raise CheckpointError(f"{source}: weights do not fit config "
                              f"{getattr(model, 'config_path', '?')}: {e}") from e


def finish_model(model: StableDiffusionBase, device: str | torch.device, plan: DtypePlan,
                 alphas_cumprod: torch.Tensor | None = None, attention: AttentionStrategy | None = None) -> None:
    """After assignment: rebuild non-persistent buffers, cast, move, freeze, set the schedule."""
    for module in model.modules():
        init = getattr(module, "init_buffers", None)
        if callable(init):
            init(device)
    model.requires_grad_(False)
    model.eval()
    apply_dtypes(model, plan)
    model.to(device)
    leftover = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if leftover:
        raise CheckpointError(f"model still has unloaded tensors: {leftover[:5]}")
    if alphas_cumprod is not None:
        model.alphas_cumprod = alphas_cumprod.to(device)
    if attention is not None:
        set_attention(model, attention)
    model.dtype_plan = plan


def load_model(checkpoint: str | Path, options: LoadOptions | None = None) -> StableDiffusionBase:
    """Load a checkpoint file into a ready, frozen model on ``options.device``."""
    options = options or LoadOptions()
    device = torch.device(options.device)
    gguf: GGUFContents | None = None
    if is_gguf_file(checkpoint):
        gguf, sd, alphas, choice, group = _read_gguf_checkpoint(checkpoint, options)
        shapes = {**shape_table(sd), **gguf.shapes()}
    else:
        sd, alphas = read_state_dict(checkpoint, device, options.allow_unsafe)
        choice = choose_config(checkpoint, sd, options.config, options.v_probe)
        shapes = shape_table(sd)
    log.info("loading %s with %s (%s)", checkpoint, choice.path.name, choice.reason)
    model = build_on_meta(choice.path, options.attention, shapes)
    if getattr(model, "is_sd3", False):
        prepare_sd3_weights(model, sd, options.text_encoder_dir, options.enable_t5)  # A1111's before_load_weights
    if getattr(model, "is_flux", False):
        prepare_flux_weights(model, sd, options.text_encoder_dir)
    if hasattr(model, "depth_model"):
        add_midas_weights(sd, options.midas_dir, checkpoint, options.allow_unsafe)
    # SSD-1B: the SDXL UNet pruned to the file, before the weights (A1111's order); a GGUF's packed keys count
    apply_ssd_layout(model, [*sd.keys(), *(gguf.packed if gguf is not None else ())])
    load_clip_stats(model, options.karlo_dir, checkpoint)  # unCLIP-L: A1111 reads them when building the model
    attach_xlmr_tokenizer(model, options.xlmr_dir, checkpoint)  # AltDiffusion: fail before reading weights
    if gguf is not None:
        log.info("GGUF: %d layers keep packed weights", install_packed(model, gguf.packed, sd))
        check_parts(model, sd, checkpoint, group)
        model.additional_modules = list(options.additional_modules)  # named in the infotext, as Forge does
    assign_weights(model, sd, str(checkpoint))
    file_bytes = {t.data_ptr(): t.nbytes for t in sd.values() if t.device.type == "cpu"}
    del sd
    plan = plan_dtypes(options.compute_device if options.compute_device is not None else device, options.precision)
    model.fp8 = False
    if getattr(model, "is_flux", False):
        adopt_stored_fp8(model, plan)  # weights the file stores in FP8 (e4m3fn) stay FP8, cast per call
    if options.fp8.applies(model.is_sdxl, device):
        # before finish_model's casts: the file's tensors go straight to FP8, no fp32 copy of them is made
        log.info("storing %d layers' weights in FP8", store_fp8(model, plan, options.fp8.cache_fp16))
    # a copy: the file's own tensor would keep its whole mapping resident (see _release_file)
    alphas = alphas.clone() if alphas is not None else None
    finish_model(model, device, plan, alphas, options.attention)
    cast_depth_model(model, plan)
    cast_image_embedder(model, plan.unet)
    _release_file(model, file_bytes)
    model.family = choice.family if choice.family != "custom" else _family_of(model)
    model.config_reason = choice.reason
    model.checkpoint_path = str(checkpoint)
    return model


def _read_gguf_checkpoint(checkpoint: str | Path, options: LoadOptions
                          ) -> tuple[GGUFContents, dict[str, Any], torch.Tensor | None, ConfigChoice, str]:
    """A GGUF diffusion model with the text encoders and VAE of ``options.additional_modules`` (Forge's way)."""
    gguf = read_gguf(checkpoint)
    group = arch_group(gguf)
    sd, alphas = read_modules(options.additional_modules, group, options.allow_unsafe)
    if group in ("sd3", "flux"):  # their text encoders may come from models/CLIP (checked when building)
        if not any(k.startswith(("first_stage_model.", "vae.")) for k in sd):
            raise missing_parts_error(checkpoint, group, ["first_stage_model"])
    elif not sd:
        raise missing_parts_error(checkpoint, group, ["cond_stage_model" if group in ("sd1", "sd2") else "conditioner",
                                                      "first_stage_model"])
    sd.update(gguf.plain)
    anchor = config_anchor(checkpoint, options.additional_modules)
    shapes = {**shape_table(sd), **gguf.shapes()}
    choice = choose_config(anchor, shapes, options.config, run_probe=False)
    family = detect(shapes).family  # also when a YAML chose the config: the picked files must fit the GGUF's family
    if group_of_family(family) != group and {group_of_family(family), group} != {"sd1", "sd2"}:  # one UNet design
        picked = ", ".join(Path(p).name for p in options.additional_modules)
        raise CheckpointError(f"{checkpoint}: the GGUF file is a {group} model but {picked} make a {family} model")
    return gguf, sd, alphas, choice, group


def _release_file(model: nn.Module, file_bytes: dict[int, int]) -> None:
    """Copy the few tensors still backed by the memory-mapped file, when they are a small part of it.

    Every tensor the casts did not touch (integer buffers, tensors already in the planned dtype) is a view
    of the file's mapping, which stays resident as a whole while one view lives: for an fp16 file loaded
    in fp32 or FP8 that is the whole file (2-7 GB) kept for a few kilobytes.  When most of the model
    still is the file (an fp32 file loaded in fp32), the mapping is the model and is kept.
    """
    tensors = [t for t in [*model.parameters(), *model.buffers()] if t.data_ptr() in file_bytes]
    if sum(t.nbytes for t in tensors) * 2 > sum(file_bytes.values()):
        return
    with torch.no_grad():
        for t in tensors:
            t.data = t.data.clone()


def detect_checkpoint(checkpoint: str | Path, allow_unsafe: bool = False) -> ConfigChoice:
    """The config a checkpoint would load with, from key shapes only (no weights read for safetensors)."""
    shapes: dict[str, Any] = dict(read_shapes(checkpoint, allow_unsafe))
    fix_state_dict(shapes)
    return choose_config(checkpoint, shapes, run_probe=False)


def _family_of(model: StableDiffusionBase) -> str:
    if getattr(model, "is_sd3", False):
        return "sd3"
    if getattr(model, "is_flux", False):
        return model.family
    if model.is_ssd:
        return "ssd-1b"
    if model.is_sdxl:
        return "sdxl-refiner" if model.is_refiner else ("sdxl-inpaint" if model.is_sdxl_inpaint else "sdxl")
    alt = alt_diffusion_family(model)
    if alt is not None:
        return alt
    base = "sd2" if model.is_sd2 else "sd1"
    if hasattr(model, "depth_model"):
        return f"{base}-depth"
    if hasattr(model, "noise_augmentor"):
        return "sd2-unclip-l" if model.embedder.arch == "ViT-L/14" else "sd2-unclip-h"
    in_channels = model.model.diffusion_model.in_channels
    if in_channels == 9:
        return f"{base}-inpaint"
    if in_channels == 8:
        return "instruct-pix2pix"
    return f"{base}-v" if model.parameterization == "v" else base
