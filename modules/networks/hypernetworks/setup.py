"""Wiring hypernetworks into a running app (called by the bootstrap before scripts load, as A1111's
``initialize_rest`` registers its default extra networks).  ``GET /sdapi/v1/hypernetworks``
(``modules.api.routes_info``) lists ``shared.hypernetworks``.

After :func:`setup_hypernetworks`, ``modules.shared`` names:

- ``hypernetworks_registry`` - the :class:`~.registry.Hypernetworks` object;
- ``hypernetworks`` - A1111's dict ``{name: path}`` (the registry's ``available``, same object);
- ``loaded_hypernetworks`` - A1111's list of active hypernetworks (the registry's ``loaded``).
"""
from __future__ import annotations

from typing import Any

from modules.networks.hypernetworks.registry import Hypernetworks


def setup_hypernetworks(shared: Any = None, registry: Any = None) -> Hypernetworks:
    """Create the registry for ``--hypernetwork-dir``, list it, name it on ``shared`` and register ``hypernet``."""
    if shared is None:
        from modules import shared
    if registry is None:
        from modules.networks.extra_networks import registry
    from modules.networks.hypernetworks.extra_network import register_default_extra_networks

    hypernetworks = Hypernetworks(lambda: getattr(shared.cmd_opts, "hypernetwork_dir", None))
    hypernetworks.refresh()
    shared.hypernetworks_registry = hypernetworks
    shared.hypernetworks = hypernetworks.available
    shared.loaded_hypernetworks = hypernetworks.loaded
    register_default_extra_networks(registry, hypernetworks)
    return hypernetworks


def live_registry() -> Hypernetworks:
    """The app's registry (an empty one, listing ``--hypernetwork-dir`` lazily, before setup ran)."""
    from modules import shared

    registry = getattr(shared, "hypernetworks_registry", None)
    if registry is None:
        registry = Hypernetworks(lambda: getattr(shared.cmd_opts, "hypernetwork_dir", None))
        shared.hypernetworks_registry = registry
    return registry


def reload_hypernetworks() -> None:
    """List the files again (A1111's ``shared_items.reload_hypernetworks``, the settings' refresh button)."""
    live_registry().refresh()
