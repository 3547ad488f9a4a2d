"""Creating an untrained hypernetwork file (the Train tab's "Create hypernetwork",
``POST /sdapi/v1/create/hypernetwork``) in A1111's layout and with its weight initialisations."""
from __future__ import annotations

import os
from typing import Any, Sequence

import torch
from torch import nn

from modules.core.file_naming import CreationError, sanitize_name
from modules.core.services import current_services
from modules.networks.hypernetworks.hypernetwork import ACTIVATIONS, HypernetworkError, HypernetworkModule
from modules.networks.hypernetworks.setup import reload_hypernetworks

WEIGHT_INITS = ("Normal", "KaimingUniform", "KaimingNormal", "XavierUniform", "XavierNormal")


def _numbers(value: str | Sequence[float] | None, what: str) -> list[float] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return [float(x.strip()) for x in value.split(",") if x.strip()]
        except ValueError:
            raise CreationError(f"{what} must be numbers separated by commas, got {value!r}")
    return [float(x) for x in value]


def initialize_weights(module: HypernetworkModule, weight_init: str, activation_func: str | None) -> None:
    """A1111's initialisation of a new module (LayerNorms always as "Normal")."""
    for layer in module.linear:
        if not isinstance(layer, (nn.Linear, nn.LayerNorm)):
            continue
        weight, bias = layer.weight.data, layer.bias.data
        if weight_init == "Normal" or isinstance(layer, nn.LayerNorm):
            nn.init.normal_(weight, mean=0.0, std=0.01)
            nn.init.normal_(bias, mean=0.0, std=0)
        elif weight_init in ("KaimingUniform", "KaimingNormal"):
            nonlinearity = "leaky_relu" if activation_func == "leakyrelu" else "relu"
            init = nn.init.kaiming_uniform_ if weight_init == "KaimingUniform" else nn.init.kaiming_normal_
            init(weight, nonlinearity=nonlinearity)
            nn.init.zeros_(bias)
        elif weight_init in ("XavierUniform", "XavierNormal"):
            (nn.init.xavier_uniform_ if weight_init == "XavierUniform" else nn.init.xavier_normal_)(weight)
            nn.init.zeros_(bias)
        else:
            raise CreationError(f"Unknown weight initialization {weight_init!r}; one of {', '.join(WEIGHT_INITS)}")


def hypernetwork_file_data(name: str, enable_sizes: Sequence[int], layer_structure: list[float],
                           activation_func: str | None, weight_init: str, add_layer_norm: bool, use_dropout: bool,
                           dropout_structure: list[float]) -> dict[Any, Any]:
    """A1111's ``Hypernetwork.save`` dictionary for freshly initialised modules."""
    data: dict[Any, Any] = {}
    for size in enable_sizes:
        pair = []
        for _ in range(2):
            module = HypernetworkModule(size, None, layer_structure, activation_func, add_layer_norm,
                                        activate_output=False, dropout_structure=dropout_structure)
            initialize_weights(module, weight_init, activation_func)
            pair.append(module.state_dict())
        data[int(size)] = tuple(pair)
    data.update({"step": 0, "name": name, "layer_structure": layer_structure, "activation_func": activation_func,
                 "is_layer_norm": add_layer_norm, "weight_initialization": weight_init, "sd_checkpoint": None,
                 "sd_checkpoint_name": None, "activate_output": False, "use_dropout": use_dropout,
                 "dropout_structure": dropout_structure, "last_layer_dropout": dropout_structure[-2] != 0,
                 "optional_info": None})
    return data


def create_hypernetwork(name: str, enable_sizes: Sequence[Any], overwrite_old: bool,
                        layer_structure: str | Sequence[float] | None = None, activation_func: str | None = None,
                        weight_init: str | None = None, add_layer_norm: bool = False, use_dropout: bool = False,
                        dropout_structure: str | Sequence[float] | None = None) -> str:
    """Write ``<hypernetworks dir>/<name>.pt``; returns its path (A1111's signature)."""
    clean = sanitize_name(name)
    filename = os.path.join(current_services().cmd_opts.hypernetwork_dir, f"{clean}.pt")
    if not overwrite_old and os.path.exists(filename):
        raise CreationError(f"file {filename} already exists")
    try:
        sizes = [int(x) for x in enable_sizes or []]
    except (TypeError, ValueError):
        raise CreationError(f"Modules must be context widths such as 768, got {enable_sizes!r}")
    if not sizes:
        raise CreationError("Choose at least one module (context width).")
    structure = _numbers(layer_structure, "Layer structure") or [1.0, 2.0, 1.0]
    if use_dropout and dropout_structure:
        dropout = _numbers(dropout_structure, "Dropout structure") or []
    else:
        dropout = [0.0] * len(structure)
    if len(dropout) != len(structure):
        raise CreationError("Dropout structure must have as many entries as the layer structure.")
    if dropout[0] != 0 or dropout[-1] != 0 or not all(0 <= d < 1 for d in dropout):
        raise CreationError("Dropout structure must start and end with 0 and stay between 0 and 1.")
    activation = activation_func or "linear"
    if activation != "linear" and activation not in ACTIVATIONS:
        raise CreationError(f"Unknown activation function {activation!r}")
    try:
        data = hypernetwork_file_data(clean, sizes, structure, activation, weight_init or "Normal",
                                      bool(add_layer_norm), bool(use_dropout), dropout)
    except HypernetworkError as e:
        raise CreationError(str(e)) from None
    os.makedirs(os.path.dirname(filename), exist_ok=True)
    torch.save(data, filename)
    reload_hypernetworks()
    return filename
