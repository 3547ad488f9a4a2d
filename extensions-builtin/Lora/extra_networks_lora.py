"""A1111's ``extra_networks_lora`` module: the ``lora`` extra network over this extension's state."""
from __future__ import annotations

import networks
from modules.networks.lora.extra_network import ExtraNetworkLora as _ExtraNetworkLora


class ExtraNetworkLora(_ExtraNetworkLora):
    """``<lora:name:te:unet:dyn>`` applied to ``networks.lora_networks`` (A1111's no-argument constructor)."""

    def __init__(self) -> None:
        super().__init__(networks.lora_networks)
