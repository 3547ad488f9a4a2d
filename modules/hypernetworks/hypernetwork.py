"""A1111's ``modules.hypernetworks.hypernetwork``: the names extensions import, over the live registry.

``train_hypernetwork`` is :func:`modules.training.hypernetwork.train_hypernetwork` (run it inside a job
of the queue: it reads the job's interrupt flag and reports progress).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from modules.networks.hypernetworks import hypernetwork as _impl
from modules.networks.hypernetworks.creation import create_hypernetwork  # noqa: F401  (A1111 name)
from modules.networks.hypernetworks.hypernetwork import (  # noqa: F401  (A1111 names)
    ACTIVATIONS,
    Hypernetwork,
    HypernetworkModule,
    apply_hypernetworks as _apply_hypernetworks,
    parse_dropout_structure,
)
from modules.networks.hypernetworks.registry import list_hypernetworks  # noqa: F401  (A1111 name)
from modules.networks.hypernetworks.setup import live_registry
from modules.training.hypernetwork import train_hypernetwork  # noqa: F401  (A1111 name)


def load_hypernetwork(name: str) -> Hypernetwork | None:
    """The listed hypernetwork ``name`` read from disk, or ``None``."""
    registry = live_registry()
    registry.ensure_listed()
    return registry.load_one(name)


def load_hypernetworks(names: Sequence[str], multipliers: Sequence[float] | None = None) -> None:
    """Make ``names`` the active hypernetworks (hooked into the model at the next activation)."""
    live_registry().load_hypernetworks(list(names), multipliers)


def find_closest_hypernetwork_name(search: str) -> str | None:
    return live_registry().find_closest(search)


def apply_single_hypernetwork(hypernetwork: Hypernetwork | None, context_k: torch.Tensor, context_v: torch.Tensor,
                              layer: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A1111's signature (``layer`` is accepted and unused)."""
    return _impl.apply_single_hypernetwork(hypernetwork, context_k, context_v)


def apply_hypernetworks(hypernetworks: Sequence[Hypernetwork], context: torch.Tensor,
                        layer: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A1111's signature (``layer`` is accepted and unused)."""
    return _apply_hypernetworks(hypernetworks, context)
