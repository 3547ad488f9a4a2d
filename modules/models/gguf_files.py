"""GGUF diffusion-model files (city96's format, as Forge and ComfyUI load them) as checkpoints.

A ``.gguf`` file holds only the diffusion model (UNet or transformer), its tensors packed in GGML block
formats, and names the family in ``general.architecture`` ("sd1", "sdxl", "sd3", "flux").  The text
encoders and the VAE come from the files the user picks in setting ``forge_additional_modules`` (Forge's
"VAE / Text Encoder" selector): a full checkpoint of the same family (its UNet is ignored), a VAE file
(Flux's ``ae.safetensors``), or for SD1 a CLIP-L text encoder file; SD3 and Flux also take their text
encoders from ``models/CLIP`` as their own checkpoints do.
What is still missing is one error naming the parts and the setting.

Packed tensors stay packed: :func:`install_packed` gives the layers that can hold them the per-call
dequantising classes of :mod:`modules.models.gguf_layers`; any other packed tensor is dequantised once.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from modules.models.checkpoint_io import CheckpointError, read_checkpoint
from modules.models.detection import yaml_next_to
from modules.models.gguf_layers import can_hold_quantised, store_quantised
from modules.models.gguf_quants import BF16, F16, F32, TYPE_NAMES, dequantize, is_quantised
from modules.models.state_dict_fixups import fix_state_dict, unwrap_state_dict

UNET_PREFIX = "model.diffusion_model."
SETTING = "forge_additional_modules"
SETTING_LABEL = "VAE / Text Encoder"
ARCH_FIELD = "general.architecture"
ORIG_SHAPE_FIELD = "comfy.gguf.orig_shape."
"""city96's converter records a tensor's real shape here when it stored it reshaped (e.g. a 4-D conv weight)."""

ARCH_GROUPS = {"sd1": "sd1", "sd2": "sd2", "sdxl": "sdxl", "sd3": "sd3", "flux": "flux"}
PART_NAMES = {"first_stage_model": "the VAE (first_stage_model)",
              "cond_stage_model": "the text encoder (cond_stage_model)",
              "conditioner": "the text encoders (conditioner)",
              "text_encoders": "the text encoders (text_encoders)"}


def is_gguf_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".gguf"


@dataclass(frozen=True)
class Packed:
    """One quantised tensor: its bytes (``uint8``), GGML type and logical shape."""

    data: torch.Tensor
    qtype: int
    shape: tuple[int, ...]


@dataclass
class GGUFContents:
    """A GGUF file read: its architecture, packed tensors and plain (F32/F16/BF16) tensors, UNet-prefixed keys."""

    arch: str | None
    packed: dict[str, Packed] = field(default_factory=dict)
    plain: dict[str, torch.Tensor] = field(default_factory=dict)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        table = {k: tuple(v.shape) for k, v in self.plain.items()}
        table.update({k: v.shape for k, v in self.packed.items()})
        return table


def _field_value(reader: Any, name: str) -> Any:
    found = reader.get_field(name)
    if found is None:
        return None
    value = found.contents()
    return value


def _plain_tensor(raw: np.ndarray, qtype: int, shape: tuple[int, ...]) -> torch.Tensor:
    bytes_ = torch.from_numpy(np.ascontiguousarray(raw).view(np.uint8).reshape(-1).copy())
    dtype = {F32: torch.float32, F16: torch.float16, BF16: torch.bfloat16}[qtype]
    return bytes_.view(dtype).reshape(shape)


def read_gguf(path: str | Path) -> GGUFContents:
    """Every tensor of a GGUF file (copied out of the file's mapping, packed ones still packed)."""
    from gguf import GGUFReader  # why: the gguf package (numpy) only when a GGUF file is loaded

    try:
        reader = GGUFReader(str(path))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable GGUF file: {e}") from e
    arch = _field_value(reader, ARCH_FIELD)
    contents = GGUFContents(str(arch).lower() if arch is not None else None)
    for tensor in reader.tensors:
        qtype = int(tensor.tensor_type)
        orig = _field_value(reader, ORIG_SHAPE_FIELD + tensor.name)
        shape = tuple(int(d) for d in orig) if orig is not None else tuple(int(d) for d in reversed(tensor.shape))
        key = tensor.name if tensor.name.startswith(UNET_PREFIX) else UNET_PREFIX + tensor.name
        if is_quantised(qtype):
            data = torch.from_numpy(np.ascontiguousarray(tensor.data).view(np.uint8).reshape(-1).copy())
            contents.packed[key] = Packed(data, qtype, shape)
        elif qtype in (F32, F16, BF16):
            contents.plain[key] = _plain_tensor(tensor.data, qtype, shape)
        else:
            raise CheckpointError(f"{path}: tensor {tensor.name} has GGML type {qtype}, which this web UI does "
                                  f"not dequantise (supported: {', '.join(TYPE_NAMES.values())})")
    return contents


def arch_group(contents: GGUFContents) -> str:
    """The family group the file says (``general.architecture``), else guessed from its UNet keys."""
    if contents.arch is not None:
        if contents.arch not in ARCH_GROUPS:
            raise CheckpointError(f"GGUF architecture {contents.arch!r} is not a diffusion model this web UI "
                                  f"loads (known: {', '.join(ARCH_GROUPS)})")
        return ARCH_GROUPS[contents.arch]
    keys = contents.shapes()
    if UNET_PREFIX + "double_blocks.0.img_attn.qkv.weight" in keys:
        return "flux"
    if UNET_PREFIX + "x_embedder.proj.weight" in keys:
        return "sd3"
    if UNET_PREFIX + "label_emb.0.0.weight" in keys:
        return "sdxl"
    return "sd1"


def group_of_family(family: str) -> str:
    """``sdxl-inpaint`` -> ``sdxl``, ``sd1-inpaint`` / ``instruct-pix2pix`` -> ``sd1``, ``sd2-v`` -> ``sd2``,
    ``flux-dev`` -> ``flux``."""
    if family.startswith(("sdxl", "ssd")):
        return "sdxl"
    if family.startswith("flux"):
        return "flux"
    if family.startswith(("sd2", "sd3")):
        return family[:3]
    return "sd1"


def _module_part(path: Path, sd: dict[str, torch.Tensor], group: str) -> dict[str, torch.Tensor]:
    """The non-UNet tensors of one picked file under the model's key names."""
    keys = list(sd)
    if any(k.startswith(tuple(f"{p}." for p in PART_NAMES)) for k in keys):
        return {k: v for k, v in sd.items() if not k.startswith(UNET_PREFIX)}  # a full checkpoint
    if "encoder.conv_in.weight" in sd or "decoder.conv_in.weight" in sd:
        return {f"first_stage_model.{k}": v for k, v in sd.items()}  # a VAE file
    if group == "sd1" and any(k.startswith("text_model.") for k in keys):
        return {f"cond_stage_model.transformer.{k}": v for k, v in sd.items() if k.startswith("text_model.")}
    raise CheckpointError(f"{path}: not a VAE, text encoder or full checkpoint this web UI can take for a "
                          f"{group} GGUF model")


def read_modules(paths: Sequence[str | Path], group: str, allow_unsafe: bool = False
                 ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """The text encoder / VAE tensors of the files in ``forge_additional_modules``, and an ``alphas_cumprod``."""
    found: dict[str, torch.Tensor] = {}
    alphas = None
    for path in map(Path, paths):
        if not path.is_file():
            raise CheckpointError(f"{SETTING} names {path}, which does not exist")
        sd = unwrap_state_dict(read_checkpoint(path, "cpu", allow_unsafe))
        sd = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
        own_alphas = fix_state_dict(sd)
        alphas = alphas if alphas is not None else own_alphas
        found.update(_module_part(path, sd, group))
    return found, alphas


def missing_parts_error(gguf_path: str | Path, group: str, parts: Iterable[str]) -> CheckpointError:
    names = [PART_NAMES.get(p, p) for p in parts]
    return CheckpointError(
        f"{Path(gguf_path).name} is a GGUF file: it holds only the {group} diffusion model, so "
        f"{' and '.join(names)} must come from other files. Pick a full {group} checkpoint (or VAE and text "
        f"encoder files) in setting '{SETTING_LABEL}' ({SETTING}).")


def config_anchor(gguf_path: str | Path, module_paths: Sequence[str | Path]) -> Path:
    """The file whose ``.yaml`` neighbour chooses the config: the GGUF's own, else the first picked module's."""
    if yaml_next_to(gguf_path) is not None:
        return Path(gguf_path)
    for path in module_paths:
        if yaml_next_to(path) is not None:
            return Path(path)
    return Path(gguf_path)


def install_packed(model: nn.Module, packed: Mapping[str, Packed], sd: MutableMapping[str, Any]) -> int:
    """Give each layer a packed weight belongs to the dequantise-per-call class; a packed tensor no such layer
    can hold goes into ``sd`` dequantised.  Returns how many layers keep packed weights."""
    kept = 0
    for key, tensor in packed.items():
        owner_name, _, attr = key.rpartition(".")
        try:
            owner = model.get_submodule(owner_name)
        except AttributeError:
            owner = None
        if attr == "weight" and owner is not None and can_hold_quantised(owner):
            try:
                store_quantised(owner, tensor.data, tensor.qtype, tensor.shape)
            except ValueError as e:
                raise CheckpointError(f"{key}: {e}") from e
            kept += 1
        else:
            sd[key] = dequantize(tensor.data, tensor.qtype, tensor.shape)
    return kept


def check_parts(model: nn.Module, sd: Mapping[str, Any], gguf_path: str | Path, group: str) -> None:
    """Raise the missing-parts error when a text encoder or VAE weight is not in ``sd``."""
    expected = model.state_dict(keep_vars=True).keys()
    parts = sorted({k.split(".", 1)[0] for k in expected if k not in sd and not k.startswith(UNET_PREFIX)})
    if parts:
        raise missing_parts_error(gguf_path, group, parts)
