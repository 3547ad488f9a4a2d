"""Loaded networks and their multipliers turned into one patch set for the model's patcher.

Each layer a network names becomes a :class:`~modules.models.patcher.WeightPatch` on
that layer's weight (and bias, for types that carry one): ``W + delta(W) * multiplier``
(:meth:`~.module_types.NetworkModule.merged`),
where ``delta`` sees the weight as the networks before it left it, exactly as A1111
merges networks one after another.  A layer of a text encoder takes the network's
TE multiplier, every other layer its UNet multiplier; a zero multiplier adds nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Sequence

import torch

from modules.models.patcher import PatchSet, WeightPatch
from modules.networks.lora.layer_index import LayerIndex
from modules.networks.lora.loading import Network
from modules.networks.lora.module_types import NetworkModule

OWNER = "lora"
"""The patcher owner name of LoRA networks."""


def patch_key(networks: Sequence[Network]) -> Hashable:
    """What makes two applications the same: each network's file, its mtime and its multipliers."""
    return tuple((net.network_on_disk.filename, net.mtime, net.te_multiplier, net.unet_multiplier, net.dyn_dim)
                 for net in networks)


def _weight_fn(module: NetworkModule, multiplier: float, dyn_dim: int | None):
    def apply(weight: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        return module.merged(weight, multiplier, dyn_dim, out)
    return apply


def _bias_fn(module: NetworkModule, multiplier: float):
    def apply(bias: torch.Tensor) -> torch.Tensor:
        delta = module.bias_delta(bias, multiplier)
        if delta is None:
            return bias
        if delta.numel() != bias.numel():
            raise RuntimeError(f"bias delta of {delta.numel()} values does not fit bias of {bias.numel()}")
        return bias + delta.reshape(bias.shape)
    return apply


@dataclass
class BuiltPatches:
    """The patch set of some networks, and which of them matched no layer of the model."""

    patch_set: PatchSet
    matched: dict[str, int] = field(default_factory=dict)
    """Network name -> how many of its layers the model has."""
    unmatched_layers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def networks_matching_nothing(self) -> list[str]:
        return [name for name, count in self.matched.items() if count == 0]


def build_patches(networks: Sequence[Network], index: LayerIndex) -> BuiltPatches:
    """One patch set for ``networks`` (in order) on the model ``index`` describes."""
    patches: dict[str, list[WeightPatch]] = {}
    built = BuiltPatches(PatchSet(None))
    for net in networks:
        built.matched[net.name] = 0
        missing = built.unmatched_layers.setdefault(net.name, [])
        for layer_name, module in net.modules.items():
            target = index.get(layer_name)
            if target is None:
                missing.append(layer_name)
                continue
            built.matched[net.name] += 1
            multiplier = net.te_multiplier if target.is_text_encoder else net.unet_multiplier
            if multiplier == 0:
                continue
            patches.setdefault(target.weight_key, []).append(
                WeightPatch(_weight_fn(module, multiplier, net.dyn_dim), target.rows, net.name, takes_out=True))
            bias_key = target.bias_key
            if bias_key is not None and type(module).bias_delta is not NetworkModule.bias_delta:
                patches.setdefault(bias_key, []).append(WeightPatch(_bias_fn(module, multiplier), target.rows, net.name))
    built.patch_set = PatchSet(patch_key(networks), {k: tuple(v) for k, v in patches.items()})
    return built
