"""The ``hypernet`` extra network: ``<hypernet:name:multiplier>`` (A1111's ``ExtraNetworkHypernet``).

Registered by :func:`register_default_extra_networks` when the app starts (A1111
registers it in ``initialize_rest`` before loading scripts).  Setting
``sd_hypernetwork`` adds a hypernetwork to every prompt with the default multiplier.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from modules.core.services import current_services
from modules.networks.extra_networks import ExtraNetwork, ExtraNetworkParams, ExtraNetworkRegistry
from modules.networks.hypernetworks.registry import Hypernetworks

log = logging.getLogger(__name__)


class ExtraNetworkHypernet(ExtraNetwork):
    """Loads the tagged hypernetworks and hooks them into ``p.sd_model``'s attention layers."""

    def __init__(self, hypernetworks: Hypernetworks, opts: Callable[[], Any] | None = None) -> None:
        super().__init__("hypernet")
        self.hypernetworks = hypernetworks
        self._opts = opts or _live_opts

    def activate(self, p: Any, params_list: list[ExtraNetworkParams]) -> None:
        opts = self._opts()
        params_list = list(params_list)
        additional = getattr(opts, "sd_hypernetwork", "None")
        if additional not in (None, "", "None"):
            self.hypernetworks.ensure_listed()
            if additional in self.hypernetworks.available and not any(x.items[:1] == [additional] for x in params_list):
                multiplier = getattr(opts, "extra_networks_default_multiplier", 1.0)
                if hasattr(p, "all_prompts"):
                    p.all_prompts = [f"{x}<hypernet:{additional}:{multiplier}>" for x in p.all_prompts]
                params_list.append(ExtraNetworkParams(items=[additional, str(multiplier)]))
        names, multipliers = [], []
        for params in params_list:
            if not params.items:
                continue
            try:
                multipliers.append(float(params.items[1]) if len(params.items) > 1 else 1.0)
            except ValueError:
                log.warning("<hypernet:%s>: %r is not a number", ":".join(params.items), params.items[1])
                continue
            names.append(params.items[0])
        failed = self.hypernetworks.load_hypernetworks(names, multipliers)
        if failed:
            log.warning("Hypernetwork not found or unreadable: %s", ", ".join(failed))
            comment = getattr(p, "comment", None)
            if callable(comment):
                comment(f"Hypernetwork not found: {', '.join(failed)}")
        model = getattr(p, "sd_model", None)
        if model is not None:
            self.hypernetworks.apply_to(model)

    def deactivate(self, p: Any) -> None:
        """Nothing: like A1111, the hypernetworks stay until the next job's activation."""


def register_default_extra_networks(registry: ExtraNetworkRegistry, hypernetworks: Hypernetworks) -> ExtraNetworkHypernet:
    """Register ``hypernet`` (A1111's ``extra_networks.register_default_extra_networks``)."""
    network = ExtraNetworkHypernet(hypernetworks)
    registry.register(network)
    return network


def _live_opts() -> Any:
    return current_services().opts
