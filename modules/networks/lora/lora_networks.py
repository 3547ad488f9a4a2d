"""The live LoRA state of the app: the files, the networks loaded for the current prompt, what is merged.

:meth:`LoraNetworks.activate` is what a generation calls with the batch's first
prompt's ``<lora:...>`` tags: it finds the files (listing again for unknown
names), reads the ones not already in memory (or changed on disk), and merges
them into the model through its patcher.  The same set again (same files, mtimes
and multipliers) returns at once; a different set restores the touched weights
and merges the new one; no tags restores the model.

The torch-heavy parts are imported on first use, so importing this module (the
extension does it at start-up) stays cheap.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence
from weakref import WeakKeyDictionary

from modules.networks.lora.network_files import NetworkFiles, NetworkOnDisk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NetworkRequest:
    """One ``<lora:name:te:unet:dyn>`` tag, parsed (``unet`` ``None``: same as ``te``)."""

    name: str
    te_multiplier: float = 1.0
    unet_multiplier: float | None = None
    dyn_dim: int | None = None


@dataclass
class ActivationReport:
    """What went wrong while activating (each list empty when all went well)."""

    not_found: list[str] = field(default_factory=list)
    failed_to_load: dict[str, str] = field(default_factory=dict)
    """Name -> why the file could not be read."""
    matched_nothing: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    """Name -> layers that could not be applied (A1111's "Networks with errors")."""

    def comments(self) -> list[str]:
        """The lines for the job's comments (shown under the infotext)."""
        lines = []
        if self.not_found:
            lines.append(f"Lora not found: {', '.join(self.not_found)}")
        if self.failed_to_load:
            lines.append(f"Lora failed to load: {', '.join(self.failed_to_load)}")
        if self.matched_nothing:
            lines.append(f"Lora matched no layer of this model: {', '.join(self.matched_nothing)}")
        if self.errors:
            lines.append("Networks with errors: " + ", ".join(f"{k} ({v})" for k, v in self.errors.items()))
        return lines


def register_bundled_embeddings(net: Any, db: Any) -> None:
    """Make the embeddings bundled in ``net`` usable in prompts (A1111's rules).

    An embedding of the same name from the embeddings folder wins (the bundled one is skipped with a warning);
    one of another model's width is listed as skipped, as a folder embedding would be.
    """
    for name, embedding in getattr(net, "bundle_embeddings", {}).items():
        if embedding.loaded is None and name in db.word_embeddings:
            log.warning('Skip bundle embedding: "%s" as it was already loaded from embeddings folder', name)
            continue
        embedding.loaded = False
        if db.expected_shape == -1 or db.expected_shape == embedding.shape:
            embedding.loaded = True
            db.register_embedding(embedding)
        else:
            db.skipped_embeddings[name] = embedding


class LoraNetworks:
    """Available files, loaded networks and the merge into a model (A1111's ``networks`` module state)."""

    def __init__(self, files: NetworkFiles, *, opts: Callable[[], Any] = lambda: None,
                 allow_unsafe: Callable[[], bool] = lambda: False,
                 embedding_db: Callable[[], Any] = lambda: None) -> None:
        self.files = files
        self._opts = opts
        self._embedding_db = embedding_db
        self._allow_unsafe = allow_unsafe
        self.loaded_networks: list[Any] = []
        """The networks of the last activation, in prompt order (A1111's ``loaded_networks``)."""
        self.networks_in_memory: dict[str, Any] = {}
        self._indexes: "WeakKeyDictionary[Any, Any]" = WeakKeyDictionary()
        self._last_build: tuple[Any, list[str]] = (None, [])
        self._warned_functional = False

    # --- loading ---
    def _memory_limit(self) -> int:
        return int(getattr(self._opts(), "lora_in_memory_limit", 0) or 0)

    def purge_networks_from_memory(self) -> None:
        """Drop cached networks beyond setting ``lora_in_memory_limit`` (oldest first)."""
        while len(self.networks_in_memory) > self._memory_limit():
            self.networks_in_memory.pop(next(iter(self.networks_in_memory)))

    def _load(self, name: str, on_disk: NetworkOnDisk, already: dict[str, Any], report: ActivationReport) -> Any:
        # torch on first use: listing networks (the API start path) stays light
        from modules.networks.lora.loading import NetworkLoadError, load_network

        net = already.get(name) or self.networks_in_memory.get(name)
        try:
            stale = net is None or net.network_on_disk.filename != on_disk.filename or \
                os.path.getmtime(on_disk.filename) > (net.mtime or 0)
            if stale:
                net = load_network(name, on_disk, self._allow_unsafe())
                self.networks_in_memory.pop(name, None)
                self.networks_in_memory[name] = net
        except (NetworkLoadError, OSError) as e:
            report.failed_to_load[name] = str(e)
            log.warning("Lora %s could not be loaded: %s", name, e)
            return None
        net.mentioned_name = name
        on_disk.read_hash()
        return net

    def load_networks(self, requests: Sequence[NetworkRequest]) -> ActivationReport:
        """Make ``requests`` the loaded networks (nothing is merged yet; see :meth:`apply`)."""
        report = ActivationReport()
        already = {net.name: net for net in self.loaded_networks}
        found = self.files.resolve([r.name for r in requests]) if requests else []
        loaded = []
        for request, on_disk in zip(requests, found):
            if on_disk is None:
                report.not_found.append(request.name)
                continue
            net = self._load(request.name, on_disk, already, report)
            if net is None:
                continue
            net.te_multiplier = request.te_multiplier
            net.unet_multiplier = request.te_multiplier if request.unet_multiplier is None else request.unet_multiplier
            net.dyn_dim = request.dyn_dim
            loaded.append(net)
        self.loaded_networks[:] = loaded
        self.purge_networks_from_memory()
        db = self._embedding_db()
        if db is not None:
            for net in loaded:
                register_bundled_embeddings(net, db)
        if report.not_found:
            log.warning("Lora not found: %s", ", ".join(report.not_found))
        return report

    # --- merging ---
    def layer_index(self, model: Any) -> Any:
        """The model's layers by LoRA names (built once per model)."""
        from modules.networks.lora.layer_index import build_layer_index  # torch on first use

        index = self._indexes.get(model)
        if index is None:
            index = build_layer_index(model)
            self._indexes[model] = index
        return index

    def apply(self, model: Any, report: ActivationReport | None = None) -> ActivationReport:
        """Merge the loaded networks into ``model`` (restoring it when none are loaded)."""
        # torch on first use: listing networks (the API start path) stays light
        from modules.models.patcher import patcher_for
        from modules.networks.lora.applying import OWNER, build_patches, patch_key

        report = report or ActivationReport()
        if getattr(self._opts(), "lora_functional", False) and not self._warned_functional:
            self._warned_functional = True
            log.warning("setting lora_functional is not supported: networks are merged into the weights, "
                        "which gives the same pictures")
        patcher = patcher_for(model)
        key = patch_key(self.loaded_networks)
        if not self.loaded_networks:
            patcher.apply(OWNER, None)
            self._last_build = (None, [])
        elif patcher.applied_key(OWNER) != key or self._last_build[0] != key:
            built = build_patches(self.loaded_networks, self.layer_index(model))
            patcher.apply(OWNER, built.patch_set)
            self._last_build = (key, built.networks_matching_nothing)
        report.matched_nothing = list(self._last_build[1])
        for name in report.matched_nothing:
            log.warning("Lora %s: none of its layers is a layer of this model (is it made for another model "
                        "family?)", name)
        names = {net.name for net in self.loaded_networks}
        report.errors = {k: v for k, v in patcher.errors.items() if k in names}
        for net in self.loaded_networks:
            if net.unknown_layers:
                report.errors[net.name] = report.errors.get(net.name, 0) + len(net.unknown_layers)
        return report

    def activate(self, model: Any, requests: Sequence[NetworkRequest]) -> ActivationReport:
        """Load ``requests`` and merge them into ``model`` (no requests: the model's own weights)."""
        report = self.load_networks(requests)
        if model is not None:
            self.apply(model, report)
        return report

    def restore(self, model: Any) -> None:
        """Give ``model`` its own weights back and forget the loaded networks."""
        # torch on first use: listing networks (the API start path) stays light
        from modules.models.patcher import patcher_for
        from modules.networks.lora.applying import OWNER

        self.loaded_networks.clear()
        patcher_for(model).apply(OWNER, None)
        self._last_build = (None, [])
