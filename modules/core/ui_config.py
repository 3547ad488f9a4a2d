"""``ui-config.json``: the UI components' saved defaults and limits (``txt2img/Steps/value`` -> 20 ...).

Read at start-up (a corrupt file is moved into ``tmp/`` and an empty one used),
kept whole (keys of components that do not exist right now stay), and written
atomically when the UI adds the defaults of new components.
"""
from __future__ import annotations

from typing import Any

from modules.core.options.store import atomic_write_json, read_json_dict_or_move_aside


class UiConfig:
    """The contents of ``ui-config.json`` (``--ui-config-file``)."""

    def __init__(self, filename: str, aside_dir: str) -> None:
        self.filename = filename
        self.aside_dir = aside_dir
        self.data: dict[str, Any] = {}
        self.dirty = False

    def load(self) -> "UiConfig":
        self.data = read_json_dict_or_move_aside(self.filename, self.aside_dir, "UI config file")
        self.dirty = False
        return self

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def apply_default(self, key: str, default: Any) -> Any:
        """A1111's rule: a saved value wins; otherwise the component's default is recorded and returned."""
        if key in self.data:
            return self.data[key]
        self.data[key] = default
        self.dirty = True
        return default

    def save(self) -> None:
        """Write the file when something was added (A1111 writes it after building the UI)."""
        if self.dirty:
            atomic_write_json(self.filename, self.data)
            self.dirty = False
