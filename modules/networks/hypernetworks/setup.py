"""Wiring hypernetworks into a running app (called by the bootstrap before scripts load, as A1111's
``initialize_rest`` registers its default extra networks).  ``GET /sdapi/v1/hypernetworks``
(``modules.api.routes_info``) lists ``shared.hypernetworks``.

After :func:`setup_hypernetworks`, the services (and so ``modules.shared``) name:

- ``hypernetworks_registry`` - the :class:`~.registry.Hypernetworks` object;
- ``hypernetworks`` - A1111's dict ``{name: path}`` (the registry's ``available``, same object);
- ``loaded_hypernetworks`` - A1111's list of active hypernetworks (the registry's ``loaded``).
"""
from __future__ import annotations

from typing import Any

from modules.core.services import Services, current_services
from modules.networks import extra_networks
from modules.networks.hypernetworks.extra_network import register_default_extra_networks
from modules.networks.hypernetworks.registry import Hypernetworks


def _hypernetwork_dir(services: Services) -> str | None:
    return getattr(services.cmd_opts, "hypernetwork_dir", None)


def setup_hypernetworks(services: Services | None = None, registry: Any = None) -> Hypernetworks:
    """Create the registry for ``--hypernetwork-dir``, list it, name it on ``services`` (default: the current
    ones) and register ``hypernet`` in ``registry`` (default: the extra-network registry)."""
    services = services if services is not None else current_services()
    registry = registry if registry is not None else extra_networks.registry
    hypernetworks = Hypernetworks(lambda: _hypernetwork_dir(services))
    hypernetworks.refresh()
    services.hypernetworks_registry = hypernetworks
    services.hypernetworks = hypernetworks.available
    services.loaded_hypernetworks = hypernetworks.loaded
    register_default_extra_networks(registry, hypernetworks)
    return hypernetworks


def live_registry() -> Hypernetworks:
    """The app's registry (an empty one, listing ``--hypernetwork-dir`` lazily, before setup ran)."""
    services = current_services()
    registry = getattr(services, "hypernetworks_registry", None)
    if registry is None:
        registry = Hypernetworks(lambda: _hypernetwork_dir(services))
        services.hypernetworks_registry = registry
    return registry


def reload_hypernetworks() -> None:
    """List the files again (A1111's ``shared_items.reload_hypernetworks``, the settings' refresh button)."""
    live_registry().refresh()
