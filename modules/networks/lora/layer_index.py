"""Every layer a LoRA may change, under each name LoRA files use for it.

Our modules are named by the LDM checkpoint keys, so A1111's own layer names
(its ``network_layer_mapping``) are simply those paths with ``.`` -> ``_``:
``diffusion_model_input_blocks_1_1_proj_in``, ``transformer_text_model_encoder_layers_0_mlp_fc1``
(SD1), ``model_transformer_resblocks_0_mlp_c_fc`` (SD2), ``0_...`` / ``1_...`` (SDXL's
two text encoders).  Files name layers in other schemes too, and each is added
as an alias of the same layer:

- kohya / diffusers UNet names: ``lora_unet_down_blocks_0_attentions_0_proj_in``
  (LDM block numbers translated into diffusers' down/mid/up blocks, resnet parts
  renamed: ``in_layers_2`` -> ``conv1`` ...);
- kohya names over LDM paths, as SDXL LoRAs use: ``lora_unet_input_blocks_4_1_proj_in``;
- text encoders: ``lora_te_text_model_encoder_layers_N_...`` (SD1/SD2, also ``lora_te1_``),
  SDXL ``lora_te1_...`` (CLIP-L) and ``lora_te2_...`` (OpenCLIP bigG).  OpenCLIP's
  names are translated (``mlp_fc1`` -> ``mlp.c_fc``, ``self_attn`` -> ``attn`` ...) and its
  packed ``in_proj_weight`` appears as three layers, ``..._q_proj`` / ``_k_proj`` /
  ``_v_proj``, each a block of rows of the same tensor.
- SD3's MMDiT: A1111 1.10 maps diffusers' attention names (``transformer.transformer_blocks.N.attn.to_q``,
  ``add_q_proj``, ``to_out.0`` ...) onto the joint blocks; the fused ``qkv`` layers appear as three row
  blocks, ``diffusion_model_joint_blocks_N_x_block_attn_qkv_q_proj`` and so on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from modules.models.nets.transformer import SpatialTransformer
from modules.models.nets.unet_blocks import Downsample, ResBlock, Upsample
from modules.models.patcher import tensor_key

SUPPORTED_LAYERS = (nn.Linear, nn.Conv2d, nn.LayerNorm, nn.GroupNorm)

RESNET_PARTS = {
    "in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj",
    "out_layers.0": "norm2", "out_layers.3": "conv2", "skip_connection": "conv_shortcut",
}
"""LDM ResBlock layer -> diffusers resnet layer."""

UNET_TOP_LEVEL = {
    "input_blocks.0.0": "conv_in", "out.0": "conv_norm_out", "out.2": "conv_out",
    "time_embed.0": "time_embedding_linear_1", "time_embed.2": "time_embedding_linear_2",
    "label_emb.0.0": "add_embedding_linear_1", "label_emb.0.2": "add_embedding_linear_2",
}

OPEN_CLIP_PARTS = {
    "attn.out_proj": "self_attn_out_proj", "mlp.c_fc": "mlp_fc1", "mlp.c_proj": "mlp_fc2",
    "ln_1": "layer_norm1", "ln_2": "layer_norm2",
}
"""OpenCLIP resblock layer -> the transformers CLIP name kohya uses for it."""


@dataclass(frozen=True)
class LayerTarget:
    """One layer (or a block of rows of one packed layer) a network module can change."""

    name: str
    """A1111's layer name (``diffusion_model_...``, ``transformer_text_model_...``, ``1_model_...``)."""
    module_path: str
    """The owning module's path in the model (``model.diffusion_model.out.2``)."""
    module: nn.Module
    weight_attr: str
    """``weight``, or ``in_proj_weight`` for a packed attention projection."""
    bias_attr: str | None
    """The bias tensor's attribute, ``None`` when the layer has no bias."""
    rows: tuple[int, int] | None
    """The block of rows of the packed tensors this layer is (q, k or v), else ``None``."""
    is_text_encoder: bool

    @property
    def weight_key(self) -> str:
        """The patcher's key of the weight tensor."""
        return tensor_key(self.module_path, self.weight_attr)

    @property
    def bias_key(self) -> str | None:
        return None if self.bias_attr is None else tensor_key(self.module_path, self.bias_attr)

    @property
    def weight(self) -> torch.Tensor:
        """The current weight (the rows of this layer only)."""
        w = getattr(self.module, self.weight_attr)
        return w if self.rows is None else w[self.rows[0]:self.rows[1]]

    @property
    def shape(self) -> torch.Size:
        return self.weight.shape

    @property
    def kind(self) -> str:
        """``linear``, ``conv``, ``norm`` or ``attention`` (packed projection)."""
        if self.rows is not None:
            return "attention"
        if isinstance(self.module, nn.Conv2d):
            return "conv"
        if isinstance(self.module, (nn.LayerNorm, nn.GroupNorm)):
            return "norm"
        return "linear"


class LayerIndex:
    """The layers of one model by every name (see the module docstring); built by :func:`build_layer_index`."""

    def __init__(self) -> None:
        self.by_name: dict[str, LayerTarget] = {}
        self.layers: dict[str, LayerTarget] = {}
        """A1111 name -> layer (each layer once)."""

    def add(self, target: LayerTarget, aliases: list[str]) -> None:
        self.layers[target.name] = target
        self.by_name.setdefault(target.name, target)
        for alias in aliases:
            self.by_name.setdefault(alias, target)

    def get(self, name: str) -> LayerTarget | None:
        """The layer a file's (normalised) layer name refers to, or ``None``."""
        return self.by_name.get(name)

    def __len__(self) -> int:
        return len(self.layers)


def _is_packed_attention(module: nn.Module) -> bool:
    weight = getattr(module, "in_proj_weight", None)
    return isinstance(weight, torch.Tensor) and weight.dim() == 2 and weight.shape[0] == 3 * weight.shape[1]


def _layers(root: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for path, module in root.named_modules():
        if isinstance(module, SUPPORTED_LAYERS) or _is_packed_attention(module):
            yield path, module


def _bias_attr(module: nn.Module, attr: str = "bias") -> str | None:
    return attr if isinstance(getattr(module, attr, None), torch.Tensor) else None


def _underscored(path: str) -> str:
    return path.replace(".", "_")


# --- UNet ---
def _block_kind(child: nn.Module) -> str:
    if isinstance(child, ResBlock):
        return "resnets"
    if isinstance(child, SpatialTransformer):
        return "attentions"
    return ""


def _unet_prefixes(unet: nn.Module) -> dict[str, str]:
    """LDM block path -> diffusers block name, walked from the UNet's own structure (any depth or level count)."""
    prefixes = dict(UNET_TOP_LEVEL)
    level = index = 0
    for n, block in enumerate(getattr(unet, "input_blocks", [])):
        children = list(block)
        if n == 0:
            continue
        if children and isinstance(children[0], Downsample):
            prefixes[f"input_blocks.{n}.0.op"] = f"down_blocks_{level}_downsamplers_0_conv"
            level, index = level + 1, 0
            continue
        for k, child in enumerate(children):
            if _block_kind(child):
                prefixes[f"input_blocks.{n}.{k}"] = f"down_blocks_{level}_{_block_kind(child)}_{index}"
        index += 1
    counts = {"resnets": 0, "attentions": 0}
    for k, child in enumerate(getattr(unet, "middle_block", [])):
        kind = _block_kind(child)
        if kind:
            prefixes[f"middle_block.{k}"] = f"mid_block_{kind}_{counts[kind]}"
            counts[kind] += 1
    level = index = 0
    for n, block in enumerate(getattr(unet, "output_blocks", [])):
        upsampled = False
        for k, child in enumerate(block):
            if isinstance(child, Upsample):
                prefixes[f"output_blocks.{n}.{k}.conv"] = f"up_blocks_{level}_upsamplers_0_conv"
                upsampled = True
            elif _block_kind(child):
                prefixes[f"output_blocks.{n}.{k}"] = f"up_blocks_{level}_{_block_kind(child)}_{index}"
        index += 1
        if upsampled:
            level, index = level + 1, 0
    return prefixes


def diffusers_unet_name(path: str, prefixes: dict[str, str]) -> str | None:
    """``input_blocks.1.0.in_layers.2`` -> ``down_blocks_0_resnets_0_conv1`` (``None`` when not translatable)."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        block = prefixes.get(prefix)
        if block is None:
            continue
        rest = ".".join(parts[cut:])
        if not rest:
            return block
        if "_resnets_" in block:
            rest = RESNET_PARTS.get(rest, rest)
        return f"{block}_{_underscored(rest)}"
    return None


SD3_STREAMS = (("x_block", ("to_q", "to_k", "to_v"), ("to_out_0",)),
               ("context_block", ("add_q_proj", "add_k_proj", "add_v_proj"), ("to_add_out", "add_out_proj_0")))
"""Per MMDiT stream: diffusers' names of its q/k/v projections and of its output projection (``to_add_out`` is
diffusers' own name, ``add_out_proj_0`` the one A1111's table gives)."""


def _add_mmdit(index: LayerIndex, unet: nn.Module) -> None:
    """SD3: the q/k/v row blocks of each fused ``qkv`` and the output projections under diffusers' names."""
    for i, block in enumerate(unet.joint_blocks):
        for stream, qkv_names, out_names in SD3_STREAMS:
            attn = getattr(block, stream).attn
            path = f"model.diffusion_model.joint_blocks.{i}.{stream}.attn"
            flat = f"diffusion_model_joint_blocks_{i}_{stream}_attn"
            width = attn.qkv.weight.shape[1]
            for n, (part, name) in enumerate(zip("qkv", qkv_names)):
                target = LayerTarget(f"{flat}_qkv_{part}_proj", f"{path}.qkv", attn.qkv, "weight",
                                     _bias_attr(attn.qkv), (n * width, (n + 1) * width), False)
                index.add(target, [f"transformer_transformer_blocks_{i}_attn_{name}"])
            if hasattr(attn, "proj"):
                target = index.get(f"{flat}_proj")
                if target is not None:
                    for name in out_names:
                        index.by_name.setdefault(f"transformer_transformer_blocks_{i}_attn_{name}", target)


def _add_unet(index: LayerIndex, model: nn.Module) -> None:
    unet = model.model.diffusion_model
    prefixes = _unet_prefixes(unet)
    for path, module in _layers(unet):
        flat = _underscored(path)
        target = LayerTarget(f"diffusion_model_{flat}", f"model.diffusion_model.{path}", module, "weight",
                             _bias_attr(module), None, False)
        aliases = [f"lora_unet_{flat}"]
        diffusers = diffusers_unet_name(path, prefixes)
        if diffusers is not None:
            aliases.insert(0, f"lora_unet_{diffusers}")
        index.add(target, aliases)
    if hasattr(unet, "joint_blocks"):
        _add_mmdit(index, unet)


# --- text encoders ---
def _add_clip(index: LayerIndex, encoder: nn.Module, module_path: str, name_prefix: str,
              kohya_prefixes: list[str]) -> None:
    """transformers' CLIP: kohya names are the paths below ``transformer.``."""
    for path, module in _layers(encoder):
        target = LayerTarget(f"{name_prefix}{_underscored(path)}", f"{module_path}.{path}", module, "weight",
                             _bias_attr(module), None, True)
        aliases = []
        if path.startswith("transformer.text_model."):
            rest = _underscored(path[len("transformer."):])
            aliases = [f"{p}{rest}" for p in kohya_prefixes]
        index.add(target, aliases)


def _open_clip_kohya(path: str) -> str | None:
    """``model.transformer.resblocks.3.mlp.c_fc`` -> ``text_model_encoder_layers_3_mlp_fc1``."""
    parts = path.split(".")
    if parts[:3] != ["model", "transformer", "resblocks"] or len(parts) < 5:
        return "text_model_final_layer_norm" if path == "model.ln_final" else None
    layer, rest = parts[3], ".".join(parts[4:])
    renamed = OPEN_CLIP_PARTS.get(rest)
    return None if renamed is None else f"text_model_encoder_layers_{layer}_{renamed}"


def _add_open_clip(index: LayerIndex, encoder: nn.Module, module_path: str, name_prefix: str,
                   kohya_prefixes: list[str]) -> None:
    for path, module in _layers(encoder):
        flat = f"{name_prefix}{_underscored(path)}"
        if _is_packed_attention(module):
            width = module.in_proj_weight.shape[1]
            layer = path.split(".")[3] if path.startswith("model.transformer.resblocks.") else None
            for i, part in enumerate(("q", "k", "v")):
                target = LayerTarget(f"{flat}_{part}_proj", f"{module_path}.{path}", module, "in_proj_weight",
                                     _bias_attr(module, "in_proj_bias"), (i * width, (i + 1) * width), True)
                aliases = [] if layer is None else [
                    f"{p}text_model_encoder_layers_{layer}_self_attn_{part}_proj" for p in kohya_prefixes]
                index.add(target, aliases)
            continue
        target = LayerTarget(flat, f"{module_path}.{path}", module, "weight", _bias_attr(module), None, True)
        kohya = _open_clip_kohya(path)
        index.add(target, [] if kohya is None else [f"{p}{kohya}" for p in kohya_prefixes])


def _text_encoders(model: nn.Module) -> Iterator[tuple[nn.Module, str, str, list[str]]]:
    """(encoder, its path, A1111 name prefix, kohya prefixes) for each text encoder of the model."""
    if getattr(model, "is_sd3", False):  # transformers CLIPs under text_encoders.*; T5 is not a LoRA target here
        yield model.text_encoders.clip_l, "text_encoders.clip_l", "clip_l_", ["lora_te1_"]
        yield model.text_encoders.clip_g, "text_encoders.clip_g", "clip_g_", ["lora_te2_"]
        return
    cond = getattr(model, "cond_stage_model", None)
    if cond is not None:
        yield cond, "cond_stage_model", "", ["lora_te_", "lora_te1_"]
        return
    conditioner = getattr(model, "conditioner", None)
    for i, embedder in enumerate(getattr(conditioner, "embedders", [])):
        if hasattr(embedder, "transformer"):
            yield embedder, f"conditioner.embedders.{i}", f"{i}_", ["lora_te1_"]
        elif hasattr(embedder, "model"):
            yield embedder, f"conditioner.embedders.{i}", f"{i}_", ["lora_te2_"]


def build_layer_index(model: nn.Module) -> LayerIndex:
    """Index the UNet and text-encoder layers of a loaded model (the VAE is never a LoRA target)."""
    index = LayerIndex()
    for encoder, path, prefix, kohya in _text_encoders(model):
        if hasattr(encoder, "transformer"):
            _add_clip(index, encoder, path, prefix, kohya)
        else:
            _add_open_clip(index, encoder, path, prefix, kohya)
    _add_unet(index, model)
    return index
