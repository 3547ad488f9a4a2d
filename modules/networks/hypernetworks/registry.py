"""Hypernetwork files on disk and the ones active for the current prompt.

``available`` is A1111's ``shared.hypernetworks`` (name -> path, listed from
``--hypernetwork-dir``, default ``models/hypernetworks``); ``loaded`` is its
``shared.loaded_hypernetworks``.  Activating puts one context hook on every
attention layer of the model's UNet; activating none removes it, so the model
computes exactly what it computes without hypernetworks.
"""
from __future__ import annotations

import glob
import logging
import os
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)


def list_hypernetworks(path: str | None) -> dict[str, str]:
    """``{name: path}`` of ``path/**/*.pt`` sorted case-blind; a file named ``None.pt`` is never listed."""
    if not path:
        return {}
    result = {}
    for filename in sorted(glob.iglob(os.path.join(glob.escape(path), "**", "*.pt"), recursive=True), key=str.lower):
        name = os.path.splitext(os.path.basename(filename))[0]
        if name != "None":
            result[name] = filename
    return result


class Hypernetworks:
    """The hypernetwork files and the loaded ones (see the module docstring)."""

    def __init__(self, directory: Callable[[], str | None]) -> None:
        self._directory = directory
        self.available: dict[str, str] = {}
        self.loaded: list[Any] = []
        self.listed_dir: str | None = None
        self._listed = False

    def refresh(self) -> dict[str, str]:
        """List the files again (the dict object stays the same)."""
        self.listed_dir = self._directory()
        self.available.clear()
        self.available.update(list_hypernetworks(self.listed_dir))
        self._listed = True
        return self.available

    def ensure_listed(self) -> None:
        """List the files if that was never done or the folder setting changed since."""
        if not self._listed or self.listed_dir != self._directory():
            self.refresh()

    def as_api_list(self) -> list[dict[str, str]]:
        """The ``/sdapi/v1/hypernetworks`` answer: ``[{"name", "path"}]``."""
        self.ensure_listed()
        return [{"name": name, "path": path} for name, path in self.available.items()]

    def find_closest(self, search: str) -> str | None:
        """The shortest listed name containing ``search`` (case-blind), as A1111's ``find_closest_hypernetwork_name``."""
        if not search:
            return None
        self.ensure_listed()
        search = search.lower()
        applicable = sorted((n for n in self.available if search in n.lower()), key=len)
        return applicable[0] if applicable else None

    def load_one(self, name: str) -> Any:
        """Read the named file, or ``None`` (reported) when it is unknown or unreadable."""
        # torch on first use: listing hypernetworks (the API start path) stays light
        from modules.networks.hypernetworks.hypernetwork import Hypernetwork, HypernetworkError

        path = self.available.get(name)
        if path is None:
            return None
        try:
            return Hypernetwork().load(path)
        except (HypernetworkError, OSError) as e:
            log.warning("Error loading hypernetwork %s: %s", path, e)
            return None

    def load_hypernetworks(self, names: Sequence[str], multipliers: Sequence[float] | None = None) -> list[str]:
        """Make ``names`` the loaded hypernetworks (reusing loaded ones); returns the names that failed."""
        self.ensure_listed()
        if any(n not in self.available for n in names):
            self.refresh()
        already = {h.name: h for h in self.loaded}
        failed = []
        loaded = []
        for i, name in enumerate(names):
            hypernetwork = already.get(name) or self.load_one(name)
            if hypernetwork is None:
                failed.append(name)
                continue
            hypernetwork.set_multiplier(multipliers[i] if multipliers else 1.0)
            loaded.append(hypernetwork)
        self.loaded[:] = loaded
        return failed

    def apply_to(self, model: Any) -> None:
        """Hook the loaded hypernetworks into the attention layers of ``model``'s UNet (none: unhook)."""
        # torch on first use: listing hypernetworks (the API start path) stays light
        from modules.models.nets.transformer import set_context_hook
        from modules.networks.hypernetworks.hypernetwork import HypernetworkContextHook

        unet = getattr(getattr(model, "model", None), "diffusion_model", None)
        if unet is None:
            return
        if not self.loaded:
            set_context_hook(unet, None)
            return
        device = next(unet.parameters()).device
        for hypernetwork in self.loaded:
            hypernetwork.to(device)
        set_context_hook(unet, HypernetworkContextHook(self.loaded))
