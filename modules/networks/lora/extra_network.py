"""The ``lora`` extra network: ``<lora:name:te_multiplier:unet_multiplier:dyn>`` tags of the batch's first prompt.

One number sets both multipliers (``<lora:x:0.8>``), a second one the UNet's
(``<lora:x:1:0>``: text encoder only), a third the rank limit ``dyn``; named
``te=``, ``unet=``, ``dyn=`` override positions.  Setting ``sd_lora`` adds a
network to every prompt.  Problems (unknown name, unreadable file, a file made
for another model) are printed and added to the job's comments; the picture is
still made.  With setting ``lora_add_hashes_to_infotext`` the infotext gets
``Lora hashes: "name: 0123456789ab, ..."``.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from modules.core.services import current_services
from modules.networks.extra_networks import ExtraNetwork, ExtraNetworkParams
from modules.networks.lora.lora_networks import LoraNetworks, NetworkRequest

log = logging.getLogger(__name__)

REMOVE_SYMBOLS = str.maketrans("", "", ":,")
"""Characters taken out of names in ``Lora hashes`` (they separate its entries)."""


def parse_request(params: ExtraNetworkParams) -> NetworkRequest:
    """A tag's arguments -> :class:`NetworkRequest`; ``ValueError`` naming the tag when a number is bad."""
    if not params.positional:
        raise ValueError(f"<lora:{':'.join(params.items)}> names no network")
    pos = params.positional
    try:
        te = float(pos[1]) if len(pos) > 1 else 1.0
        te = float(params.named.get("te", te))
        unet = float(pos[2]) if len(pos) > 2 else te
        unet = float(params.named.get("unet", unet))
        dyn = int(pos[3]) if len(pos) > 3 else None
        dyn = int(params.named["dyn"]) if "dyn" in params.named else dyn
    except ValueError as e:
        raise ValueError(f"<lora:{':'.join(params.items)}>: {e}") from None
    return NetworkRequest(pos[0], te, unet, dyn)


class ExtraNetworkLora(ExtraNetwork):
    """Applies the LoRA tags of a batch (A1111's ``ExtraNetworkLora``)."""

    def __init__(self, networks: LoraNetworks, opts: Callable[[], Any] | None = None) -> None:
        super().__init__("lora")
        self.networks = networks
        self._opts = opts or _live_opts
        self.errors: dict[str, int] = {}
        """Layers that could not be applied, by network, reported in :meth:`deactivate`."""

    def _add_default_network(self, p: Any, params_list: list[ExtraNetworkParams]) -> None:
        opts = self._opts()
        additional = getattr(opts, "sd_lora", "None")
        if additional in (None, "", "None"):
            return
        self.networks.files.ensure_listed()
        if additional not in self.networks.files.available or any(x.items[:1] == [additional] for x in params_list):
            return
        multiplier = getattr(opts, "extra_networks_default_multiplier", 1.0)
        if hasattr(p, "all_prompts"):
            p.all_prompts = [x + f"<lora:{additional}:{multiplier}>" for x in p.all_prompts]
        params_list.append(ExtraNetworkParams(items=[additional, str(multiplier)]))

    def activate(self, p: Any, params_list: list[ExtraNetworkParams]) -> None:
        """Merge the tagged networks into ``p.sd_model`` (an empty list restores the model's own weights)."""
        opts = self._opts()
        params_list = list(params_list)
        self._add_default_network(p, params_list)
        requests = []
        for params in params_list:
            try:
                requests.append(parse_request(params))
            except ValueError as e:
                log.warning("%s", e)
                _comment(p, f"Lora tag ignored: {e}")
        report = self.networks.activate(getattr(p, "sd_model", None), requests)
        self.errors = dict(report.errors)
        for line in report.comments():
            if line.startswith("Networks with errors"):
                continue
            _comment(p, line)
        if report.not_found and getattr(opts, "lora_not_found_warning_console", False):
            print(f"\nLora not found: {', '.join(report.not_found)}\n")
        self._add_hashes(p, opts)

    def _add_hashes(self, p: Any, opts: Any) -> None:
        if not getattr(opts, "lora_add_hashes_to_infotext", True) or not hasattr(p, "extra_generation_params"):
            return
        # the hires pass adds its networks to those of the first pass
        if not getattr(p, "is_hr_pass", False) or not hasattr(p, "lora_hashes"):
            p.lora_hashes = {}
        for net in self.networks.loaded_networks:
            shorthash = net.network_on_disk.shorthash
            if shorthash and net.mentioned_name:
                p.lora_hashes[net.mentioned_name.translate(REMOVE_SYMBOLS)] = shorthash
        if p.lora_hashes:
            p.extra_generation_params["Lora hashes"] = ", ".join(f"{k}: {v}" for k, v in p.lora_hashes.items())

    def deactivate(self, p: Any) -> None:
        """Report layers that could not be applied; the merged weights stay for the next job (A1111)."""
        if self.errors:
            _comment(p, "Networks with errors: " + ", ".join(f"{k} ({v})" for k, v in self.errors.items()))
            self.errors = {}


def _comment(p: Any, text: str) -> None:
    comment = getattr(p, "comment", None)
    if callable(comment):
        comment(text)


def _live_opts() -> Any:
    return current_services().opts
