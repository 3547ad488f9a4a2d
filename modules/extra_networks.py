"""A1111's ``modules.extra_networks`` import path."""
from __future__ import annotations

from typing import Any

from modules.networks.extra_networks import (  # noqa: F401
    ExtraNetwork,
    ExtraNetworkParams,
    parse_prompt,
    parse_prompts,
    re_extra_net,
    registry,
)

extra_network_registry = registry.networks
extra_network_aliases = registry.aliases


def register_extra_network(extra_network: ExtraNetwork) -> None:
    registry.register(extra_network)


def register_extra_network_alias(extra_network: ExtraNetwork, alias: str) -> None:
    registry.register_alias(extra_network, alias)


def unregister_extra_network(name: str) -> None:
    registry.unregister(name)


def activate(p: Any, extra_network_data: dict) -> None:
    registry.activate(p, extra_network_data)


def deactivate(p: Any, extra_network_data: dict) -> None:
    registry.deactivate(p, extra_network_data)


def lookup_extra_networks(extra_network_data: dict) -> dict:
    return registry.lookup(extra_network_data)
