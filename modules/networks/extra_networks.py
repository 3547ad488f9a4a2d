"""Extra-network tags in prompts (``<lora:name:0.8>``, ``<hypernet:name:1>``) and their activation.

A network type subclasses :class:`ExtraNetwork` and registers itself with
:meth:`ExtraNetworkRegistry.register`; the processing layer strips the tags from
the prompts (:func:`parse_prompts`), then activates every registered type with
the tags found in the batch's first prompt, as A1111 does.
"""
from __future__ import annotations

import logging
import re
import sys
import traceback
from collections import defaultdict
from typing import Any, Iterable

log = logging.getLogger(__name__)

re_extra_net = re.compile(r"<(\w+):([^>]+)>")


class ExtraNetworkParams:
    """The arguments of one tag: ``items`` as written, split into ``positional`` and ``named`` (``key=value``)."""

    def __init__(self, items: list[str] | None = None) -> None:
        self.items = items or []
        self.positional: list[str] = []
        self.named: dict[str, str] = {}
        for item in self.items:
            key, sep, value = item.partition("=")
            if sep:
                self.named[key] = value
            else:
                self.positional.append(item)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExtraNetworkParams) and self.items == other.items

    def __repr__(self) -> str:
        return f"ExtraNetworkParams({self.items!r})"


class ExtraNetwork:
    """A kind of extra network.  Override :meth:`activate` and :meth:`deactivate`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def activate(self, p: Any, params_list: list[ExtraNetworkParams]) -> None:
        """Apply the networks named in ``params_list`` for this batch (an empty list: apply none)."""
        raise NotImplementedError

    def deactivate(self, p: Any) -> None:
        """Called after the job; undo anything :meth:`activate` must not leave behind."""
        raise NotImplementedError


def parse_prompt(prompt: str) -> tuple[str, dict[str, list[ExtraNetworkParams]]]:
    """Remove the tags from ``prompt``; returns the prompt and ``{type: [params, ...]}``."""
    found: dict[str, list[ExtraNetworkParams]] = defaultdict(list)

    def take(m: re.Match) -> str:
        found[m.group(1)].append(ExtraNetworkParams(items=m.group(2).split(":")))
        return ""

    # No tag ends after the last '>': searching only up to there keeps the regex from scanning to the end
    # of the prompt for every "<x:" (quadratic on "<a:<a:<a:...").
    cut = prompt.rfind(">") + 1
    return re_extra_net.sub(take, prompt[:cut]) + prompt[cut:], found


def parse_prompts(prompts: Iterable[str]) -> tuple[list[str], dict[str, list[ExtraNetworkParams]]]:
    """Strip tags from every prompt; the networks come from the first prompt only (A1111's batch rule)."""
    result, extra_data = [], None
    for prompt in prompts:
        updated, parsed = parse_prompt(prompt)
        if extra_data is None:
            extra_data = parsed
        result.append(updated)
    return result, extra_data or defaultdict(list)


class ExtraNetworkRegistry:
    """The registered extra-network types (A1111's ``extra_network_registry``) and their aliases."""

    def __init__(self) -> None:
        self.networks: dict[str, ExtraNetwork] = {}
        self.aliases: dict[str, ExtraNetwork] = {}

    def register(self, network: ExtraNetwork) -> None:
        self.networks[network.name] = network

    def register_alias(self, network: ExtraNetwork, alias: str) -> None:
        self.aliases[alias] = network

    def unregister(self, name: str) -> None:
        self.networks.pop(name, None)

    def lookup(self, extra_network_data: dict[str, list[ExtraNetworkParams]]) -> dict[ExtraNetwork, list]:
        """Map the parsed tag types (and aliases) to their network objects; unknown types are reported."""
        res: dict[ExtraNetwork, list] = {}
        for name, params in extra_network_data.items():
            network = self.networks.get(name) or self.aliases.get(name)
            if network is None:
                log.warning("Skipping unknown extra network: %s", name)
                continue
            res.setdefault(network, []).extend(params)
        return res

    def activate(self, p: Any, extra_network_data: dict[str, list[ExtraNetworkParams]]) -> None:
        """Activate every registered type (those without tags get an empty list); errors are reported, not raised."""
        activated = []
        for network, params in self.lookup(extra_network_data).items():
            self._call(network, "activate", p, params)
            activated.append(network)
        for network in self.networks.values():
            if network not in activated:
                self._call(network, "activate", p, [])
        if p is not None:
            p.network_data = extra_network_data

    def deactivate(self, p: Any, extra_network_data: dict[str, list[ExtraNetworkParams]]) -> None:
        for network in self.networks.values():
            self._call(network, "deactivate", p)

    @staticmethod
    def _call(network: ExtraNetwork, method: str, *args: Any) -> None:
        try:
            getattr(network, method)(*args)
        except Exception:
            print(f"*** Error {method} extra network {network.name}:\n{traceback.format_exc()}", file=sys.stderr)


registry = ExtraNetworkRegistry()
"""The registry of the running app (extensions register into it from their scripts)."""
