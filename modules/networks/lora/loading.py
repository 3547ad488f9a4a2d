"""A LoRA file read into a :class:`Network`: one module per layer, whatever the model.

The modules are keyed by the file's layer names (normalised by :mod:`.key_names`),
so a parsed file does not depend on the model; matching names to layers happens
when the network is applied (:mod:`.applying`).  Layers whose parts no network
type accepts are kept in ``unknown_layers`` and reported, not fatal.
"""
from __future__ import annotations

import logging
import os
from typing import Any

import torch

from modules.models.checkpoint_io import CheckpointError, read_checkpoint
from modules.models.textual_inversion_embedding import create_embedding_from_data
from modules.networks.lora.key_names import BUNDLE_PREFIX, group_by_layer
from modules.networks.lora.module_types import NetworkModule, make_module
from modules.networks.lora.network_files import NetworkOnDisk

log = logging.getLogger(__name__)


class NetworkLoadError(Exception):
    """A LoRA file that cannot be read (not a tensor file, truncated, refused by the safe unpickler)."""


class Network:
    """A loaded network file (A1111's ``network.Network``) plus the multipliers it is applied with."""

    def __init__(self, name: str, network_on_disk: NetworkOnDisk) -> None:
        self.name = name
        self.network_on_disk = network_on_disk
        self.te_multiplier = 1.0
        self.unet_multiplier = 1.0
        self.dyn_dim: int | None = None
        self.modules: dict[str, NetworkModule] = {}
        self.unknown_layers: list[str] = []
        self.bundle_embeddings: dict[str, Any] = {}
        """Textual-inversion embeddings bundled in the file (``bundle_emb.<name>.*``), by name; registered in the
        embedding database while the network is active (``embedding.loaded``: None before, then True / False)."""
        self.mtime: float | None = None
        self.mentioned_name: str | None = None
        """The text the prompt used (name or alias)."""

    def __repr__(self) -> str:
        return f"Network({self.name!r}, {len(self.modules)} layers)"


def read_tensors(filename: str, allow_unsafe: bool = False) -> dict[str, torch.Tensor]:
    """The file's tensors on the CPU; :class:`NetworkLoadError` naming the file when it cannot be read."""
    try:
        data = read_checkpoint(filename, "cpu", allow_unsafe)
    except (CheckpointError, OSError, RuntimeError, ValueError) as e:
        raise NetworkLoadError(f"cannot read {filename}: {e}") from e
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise NetworkLoadError(f"{filename} does not hold a dictionary of tensors")
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}


def _bundled_embeddings(sd: dict[str, torch.Tensor]) -> dict[str, dict[str, Any]]:
    bundles: dict[str, dict[str, Any]] = {}
    for key, tensor in sd.items():
        if not key.startswith(BUNDLE_PREFIX):
            continue
        emb_name, _, vector = key[len(BUNDLE_PREFIX):].partition(".")
        data = bundles.setdefault(emb_name, {})
        if vector.startswith("string_to_param."):
            data["string_to_param"] = {vector.split(".", 1)[1]: tensor}
        else:
            data[vector] = tensor
    return bundles


def load_network(name: str, network_on_disk: NetworkOnDisk, allow_unsafe: bool = False) -> Network:
    """Read ``network_on_disk`` into a :class:`Network` named ``name``."""
    net = Network(name, network_on_disk)
    net.mtime = os.path.getmtime(network_on_disk.filename)
    sd = read_tensors(network_on_disk.filename, allow_unsafe)
    if not sd:
        raise NetworkLoadError(f"{network_on_disk.filename} holds no tensors")
    for layer, parts in group_by_layer(list(sd)).items():
        weights = {part: sd[key] for part, key in parts.items()}
        module = make_module(weights)
        if module is None:
            net.unknown_layers.append(layer)
            log.debug("%s: no network type takes the parts %s of layer %s", name, sorted(weights), layer)
            continue
        net.modules[layer] = module
    net.bundle_embeddings = _embeddings_of(_bundled_embeddings(sd), network_on_disk.filename)
    return net


def _embeddings_of(bundles: dict[str, dict[str, Any]], filename: str) -> dict[str, Any]:
    embeddings = {}
    for emb_name, data in bundles.items():
        try:
            embedding = create_embedding_from_data(data, emb_name, filename=f"{filename}/{emb_name}")
        except ValueError as e:
            log.warning("%s: bundled embedding %s is not usable: %s", filename, emb_name, e)
            continue
        embedding.loaded = None
        embeddings[emb_name] = embedding
    return embeddings
