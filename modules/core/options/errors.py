"""The two ways a settings change is refused (the API answers 422 and 403)."""
from __future__ import annotations


class OptionValueError(ValueError):
    """A value does not fit its setting; ``key`` names the setting."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class OptionFrozenError(RuntimeError):
    """The setting cannot be changed now: ``--freeze-settings*``, ``--hide-ui-dir-config``, or extension
    access being off (``--listen`` and friends without ``--enable-insecure-extension-access``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message
