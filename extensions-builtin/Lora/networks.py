"""A1111's ``networks`` module of the Lora extension: the names other extensions and the settings use.

The state lives in one :class:`~modules.networks.lora.lora_networks.LoraNetworks`
object; the module-level dicts and lists below ARE its containers (the same
objects), so they always show the current state.  Nothing is read from disk
when this module is imported: the files are listed on first use.
"""
from __future__ import annotations

from typing import Any, Sequence

from modules import shared
from modules.networks.lora import infotext as _infotext
from modules.networks.lora.lora_networks import ActivationReport, LoraNetworks, NetworkRequest
from modules.networks.lora.network_files import NetworkFiles


def _directories() -> list[str]:
    cmd_opts = shared.cmd_opts
    return [getattr(cmd_opts, "lora_dir", None), getattr(cmd_opts, "lyco_dir_backcompat", None)]


files = NetworkFiles(_directories, cache=lambda: shared.cache, opts=lambda: shared.opts,
                     no_hashing=lambda: bool(getattr(shared.cmd_opts, "no_hashing", False)))
lora_networks = LoraNetworks(files, opts=lambda: shared.opts,
                             allow_unsafe=lambda: bool(getattr(shared.cmd_opts, "disable_safe_unpickle", False)),
                             embedding_db=lambda: shared.embeddings)

available_networks = files.available
available_network_aliases = files.aliases
forbidden_network_aliases = files.forbidden_aliases
available_network_hash_lookup = files.hash_lookup
loaded_networks = lora_networks.loaded_networks
networks_in_memory = lora_networks.networks_in_memory

extra_network_lora: Any = None
"""The registered ``lora`` extra network (set by ``scripts/lora_script.py``)."""


def list_available_networks() -> None:
    """List the LoRA folders again (``POST /sdapi/v1/refresh-loras``, the refresh buttons)."""
    files.refresh()


def update_available_networks_by_names(names: list[str]) -> None:
    """Add the files with these stems without forgetting the others."""
    files.refresh(names)


def load_networks(names: Sequence[str], te_multipliers: Sequence[float] | None = None,
                  unet_multipliers: Sequence[float] | None = None,
                  dyn_dims: Sequence[int | None] | None = None) -> ActivationReport:
    """A1111's call: load these networks and merge them into the loaded model."""
    requests = [
        NetworkRequest(name,
                       te_multipliers[i] if te_multipliers else 1.0,
                       unet_multipliers[i] if unet_multipliers else None,
                       dyn_dims[i] if dyn_dims else None)
        for i, name in enumerate(names)
    ]
    return lora_networks.activate(shared.sd_model, requests)


def purge_networks_from_memory() -> None:
    lora_networks.purge_networks_from_memory()


def _paste_labels() -> list[str]:
    from modules import scripts

    runner = scripts.scripts_txt2img
    return [field[1] for field in getattr(runner, "infotext_fields", None) or [] if len(field) > 1]


infotext_pasted = _infotext.make_addnet_handler(_paste_labels)
"""``infotext_pasted`` callback: Additional Networks fields -> ``<lora:...>`` tags."""

infotext_pasted_hashes = _infotext.make_hashes_handler(files)
"""``infotext_pasted`` callback: ``Lora hashes`` -> the local files' names in the prompt's tags."""
