"""A1111's ``modules.extra_networks_hypernet`` import path."""
from __future__ import annotations

from modules.networks.hypernetworks.extra_network import ExtraNetworkHypernet  # noqa: F401  (A1111 name)
