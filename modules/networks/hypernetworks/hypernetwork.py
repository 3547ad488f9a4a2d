"""The A1111 hypernetwork file and what it does at inference.

A file (``torch.save`` of a dict) holds, for each context width it was trained
for (768, 1024, 320, 640, 1280 ...), a pair of state dicts: one MLP for the
context fed to ``to_k``, one for ``to_v``.  Each MLP is built from the file's
``layer_structure`` (width multipliers, default ``[1, 2, 1]``), with
``activation_func`` after each linear layer (not after the last unless
``activate_output``), a LayerNorm after each when ``is_layer_norm``, and dropout
where ``dropout_structure`` (or ``use_dropout`` / ``last_layer_dropout`` in older
files) says, which keeps the state-dict indices of training and is inactive at
inference.  Output: ``x + mlp(x) * multiplier``.  Several hypernetworks chain.
"""
from __future__ import annotations

import inspect
import os
from typing import Any, Sequence

import torch
from torch import nn

from modules.models.checkpoint_io import CheckpointError, load_pickle

ACTIVATIONS: dict[str, type] = {
    "linear": nn.Identity, "relu": nn.ReLU, "leakyrelu": nn.LeakyReLU, "elu": nn.ELU, "swish": nn.Hardswish,
    "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
}
"""A1111's names; every other ``torch.nn`` activation is accepted by its lower-case class name."""
ACTIVATIONS.update({name.lower(): cls for name, cls in inspect.getmembers(nn.modules.activation, inspect.isclass)
                    if cls.__module__ == "torch.nn.modules.activation" and name.lower() not in ACTIVATIONS})

OLD_KEYS = {"linear1.bias": "linear.0.bias", "linear1.weight": "linear.0.weight",
            "linear2.bias": "linear.1.bias", "linear2.weight": "linear.1.weight"}
"""Key names of the first hypernetwork files."""


class HypernetworkError(ValueError):
    """A hypernetwork file that cannot be used; the message says why."""


def parse_dropout_structure(layer_structure: Sequence[float] | None, use_dropout: bool,
                            last_layer_dropout: bool) -> list[float]:
    """The dropout after each layer for files without ``dropout_structure`` (A1111's rule: 0.3 inside)."""
    layer_structure = list(layer_structure or [1, 2, 1])
    if not use_dropout:
        return [0] * len(layer_structure)
    return [0, *[0.3] * (len(layer_structure) - 3), 0.3 if last_layer_dropout else 0, 0]


class HypernetworkModule(nn.Module):
    """One MLP: ``x + linear(x) * multiplier`` (the multiplier is ignored while training, as A1111)."""

    def __init__(self, dim: int, state_dict: dict[str, torch.Tensor] | None, layer_structure: Sequence[float],
                 activation_func: str | None = None, add_layer_norm: bool = False, activate_output: bool = False,
                 dropout_structure: Sequence[float] | None = None) -> None:
        super().__init__()
        self.multiplier = 1.0
        if layer_structure[0] != 1 or layer_structure[-1] != 1:
            raise HypernetworkError(f"layer structure must start and end with 1, got {list(layer_structure)}")
        if dropout_structure is not None and len(dropout_structure) != len(layer_structure):
            raise HypernetworkError("dropout structure must have one entry per layer")
        layers: list[nn.Module] = []
        last = len(layer_structure) - 2
        for i in range(len(layer_structure) - 1):
            layers.append(nn.Linear(int(dim * layer_structure[i]), int(dim * layer_structure[i + 1])))
            if activation_func not in (None, "linear") and (i < last or activate_output):
                if activation_func not in ACTIVATIONS:
                    raise HypernetworkError(f"hypernetwork uses an unsupported activation function: {activation_func}")
                layers.append(ACTIVATIONS[activation_func]())
            if add_layer_norm:
                layers.append(nn.LayerNorm(int(dim * layer_structure[i + 1])))
            if dropout_structure is not None and dropout_structure[i + 1] > 0:
                layers.append(nn.Dropout(p=float(dropout_structure[i + 1])))
        self.linear = nn.Sequential(*layers)
        if state_dict is not None:
            fixed = {OLD_KEYS.get(k, k): v for k, v in state_dict.items()}
            try:
                self.load_state_dict(fixed)
            except RuntimeError as e:
                raise HypernetworkError(f"weights do not fit the layer structure: {e}") from None
        self.eval()
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.linear(x) * (self.multiplier if not self.training else 1)


class Hypernetwork:
    """A loaded hypernetwork file: ``layers[width] = (module for k, module for v)`` and the file's settings."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.filename: str | None = None
        self.layers: dict[int, tuple[HypernetworkModule, HypernetworkModule]] = {}
        self.step = 0
        self.sd_checkpoint: str | None = None
        self.sd_checkpoint_name: str | None = None
        self.layer_structure: list[float] = [1, 2, 1]
        self.activation_func: str | None = None
        self.weight_init = "Normal"
        self.add_layer_norm = False
        self.use_dropout = False
        self.activate_output = True
        self.last_layer_dropout = False
        self.dropout_structure: list[float] = [0, 0, 0]
        self.optional_info: Any = None

    def load_state(self, state: dict[Any, Any], filename: str | None = None) -> "Hypernetwork":
        """Fill from a file's dict (see the module docstring for the keys)."""
        self.filename = filename
        if self.name is None and filename is not None:
            self.name = os.path.splitext(os.path.basename(filename))[0]
        self.layer_structure = list(state.get("layer_structure", [1, 2, 1]))
        self.optional_info = state.get("optional_info")
        self.activation_func = state.get("activation_func")
        self.weight_init = state.get("weight_initialization", "Normal")
        self.add_layer_norm = bool(state.get("is_layer_norm", False))
        dropout = state.get("dropout_structure")
        self.use_dropout = bool(dropout is not None and any(dropout)) or bool(state.get("use_dropout", False))
        self.activate_output = bool(state.get("activate_output", True))
        self.last_layer_dropout = bool(state.get("last_layer_dropout", False))
        self.dropout_structure = list(dropout) if dropout is not None else parse_dropout_structure(
            self.layer_structure, self.use_dropout, self.last_layer_dropout)
        for size, pair in state.items():
            if isinstance(size, int):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise HypernetworkError(f"entry for width {size} is not a (k, v) pair")
                self.layers[size] = tuple(  # type: ignore[assignment]
                    HypernetworkModule(size, sd, self.layer_structure, self.activation_func, self.add_layer_norm,
                                       self.activate_output, self.dropout_structure) for sd in pair)
        self.name = state.get("name", self.name)
        self.step = state.get("step", 0)
        self.sd_checkpoint = state.get("sd_checkpoint")
        self.sd_checkpoint_name = state.get("sd_checkpoint_name")
        return self

    def load(self, filename: str) -> "Hypernetwork":
        """Read ``filename`` through the safe unpickler."""
        try:
            state = load_pickle(filename, "cpu")
        except CheckpointError as e:
            raise HypernetworkError(str(e)) from e
        if not isinstance(state, dict):
            raise HypernetworkError(f"{filename} does not hold a hypernetwork")
        return self.load_state(state, filename)

    def set_multiplier(self, multiplier: float) -> "Hypernetwork":
        for pair in self.layers.values():
            for module in pair:
                module.multiplier = multiplier
        return self

    def to(self, device: torch.device | str) -> "Hypernetwork":
        for pair in self.layers.values():
            for module in pair:
                module.to(device)
        return self


def apply_single_hypernetwork(hypernetwork: Hypernetwork | None, context_k: torch.Tensor,
                              context_v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pass k and v contexts through the hypernetwork's pair for their width (unchanged when it has none)."""
    pair = hypernetwork.layers.get(context_k.shape[2]) if hypernetwork is not None else None
    if pair is None:
        return context_k, context_v
    module_k, module_v = pair
    dtype = context_k.dtype
    # computed in the hypernetwork's float32, as A1111's cond_cast_float does for half-precision UNets
    weight = module_k.linear[0].weight
    k = module_k(context_k.to(device=weight.device, dtype=weight.dtype)).to(dtype)
    v = module_v(context_v.to(device=weight.device, dtype=weight.dtype)).to(dtype)
    return k, v


def apply_hypernetworks(hypernetworks: Sequence[Hypernetwork], context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Chain every hypernetwork over the context; returns the inputs of ``to_k`` and ``to_v``."""
    context_k = context_v = context
    for hypernetwork in hypernetworks:
        context_k, context_v = apply_single_hypernetwork(hypernetwork, context_k, context_v)
    return context_k, context_v


class HypernetworkContextHook:
    """The attention layers' ``context_hook`` while hypernetworks are active (a plain object, not a module)."""

    def __init__(self, hypernetworks: Sequence[Hypernetwork]) -> None:
        self.hypernetworks = list(hypernetworks)

    def __call__(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return apply_hypernetworks(self.hypernetworks, context)
