"""The live settings object (``shared.opts``) and its ``config.json`` file.

Values are type-checked against each option's default, saved atomically
(temporary file + rename), and a corrupt file is moved aside instead of
stopping the server.  Keys nobody declared (an extension that is not loaded
right now, say) are kept and written back untouched.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from modules.core.options.option_info import OptionInfo

log = logging.getLogger(__name__)


class OptionValueError(ValueError):
    """A value does not fit its setting; ``key`` names the setting."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class OptionFrozenError(RuntimeError):
    """The setting cannot be changed because of ``--freeze-settings*`` or ``--hide-ui-dir-config``."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass
class SettingsRestrictions:
    """What the command line forbids changing."""

    freeze_all: bool = False
    frozen_sections: frozenset[str] = frozenset()
    frozen_keys: frozenset[str] = frozenset()
    hidden_dir_keys: frozenset[str] = frozenset()

    @classmethod
    def from_cmd_opts(cls, cmd_opts: Any, dir_keys: Iterable[str] = ()) -> "SettingsRestrictions":
        def split(value: str | None) -> frozenset[str]:
            return frozenset(x.strip() for x in (value or "").split(",") if x.strip())

        return cls(
            freeze_all=bool(getattr(cmd_opts, "freeze_settings", False)),
            frozen_sections=split(getattr(cmd_opts, "freeze_settings_in_sections", None)),
            frozen_keys=split(getattr(cmd_opts, "freeze_specific_settings", None)),
            hidden_dir_keys=frozenset(dir_keys) if getattr(cmd_opts, "hide_ui_dir_config", False) else frozenset(),
        )


_TYPE_NAMES = {bool: "boolean", int: "number", float: "number", str: "string", list: "list", dict: "object"}


def _kind(value: Any) -> type:
    # int and float are one kind (A1111 maps int to float); bool is its own kind
    if isinstance(value, bool):
        return bool
    if isinstance(value, (int, float)):
        return float
    if isinstance(value, tuple):
        return list
    return type(value)


def check_value_type(key: str, info: OptionInfo | None, value: Any) -> None:
    """Raise :class:`OptionValueError` when ``value`` is not of the type of the option's default.

    Options whose default is ``None`` accept ``None`` and strings (a checkpoint
    title, an upscaler name...); unknown keys accept anything JSON can hold.
    """
    if info is None:
        return
    default = info.default
    if default is None:
        if value is not None and not isinstance(value, (str, int, float, list)):
            raise OptionValueError(key, f"expected a string or null, got {type(value).__name__}")
        return
    if value is None:
        raise OptionValueError(key, f"expected {_TYPE_NAMES.get(_kind(default), type(default).__name__)}, got null")
    if _kind(value) is not _kind(default):
        expected = _TYPE_NAMES.get(_kind(default), type(default).__name__)
        raise OptionValueError(key, f"expected {expected}, got {type(value).__name__} {value!r}")
    if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float) and not value.is_integer():
        raise OptionValueError(key, f"expected a whole number, got {value!r}")


def atomic_write_json(path: str, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` so that readers see the old file or the new one, never half."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf8") as f:
            json.dump(data, f, indent=4, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json_dict_or_move_aside(path: str, aside_dir: str, what: str) -> dict:
    """Read a JSON object from ``path``; when it is corrupt, move it into ``aside_dir`` and return ``{}``."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path, "r", encoding="utf-8-sig") as f:
            data = json.load(f)
        if not isinstance(data, dict):
            raise ValueError(f"top level is {type(data).__name__}, not an object")
        return data
    except (ValueError, UnicodeDecodeError) as e:
        os.makedirs(aside_dir, exist_ok=True)
        target = os.path.join(aside_dir, os.path.basename(path))
        if os.path.exists(target):
            stem, ext = os.path.splitext(os.path.basename(path))
            target = os.path.join(aside_dir, f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}{ext}")
        os.replace(path, target)
        log.warning("%s %s could not be read (%s); it was moved to %s and defaults are used", what, path, e, target)
        print(f"*** {what} {path} could not be read ({e}); moved to {target}, using defaults", flush=True)
        return {}


class Options:
    """Settings as attributes: ``opts.samples_format``, ``opts.set("samples_format", "jpg")``.

    ``data_labels`` maps each declared key to its :class:`OptionInfo`; ``data``
    holds the values that differ from nothing (loaded or set).  Reading an unset
    key gives its default.
    """

    typemap = {int: float}

    def __init__(self, data_labels: dict[str, OptionInfo], restrictions: SettingsRestrictions | None = None) -> None:
        super().__setattr__("data_labels", dict(data_labels))
        super().__setattr__("data", {k: v.default for k, v in data_labels.items()})
        super().__setattr__("restrictions", restrictions or SettingsRestrictions())
        super().__setattr__("_onchange_extra", {})
        super().__setattr__("config_filename", None)

    # --- attribute access (A1111 surface) ---
    def __getattr__(self, item: str) -> Any:
        data = self.__dict__["data"]
        if item in data:
            return data[item]
        labels = self.__dict__["data_labels"]
        if item in labels:
            return labels[item].default
        raise AttributeError(f"no setting named {item!r}")

    def __setattr__(self, key: str, value: Any) -> None:
        if key in self.__dict__ or key in type(self).__dict__:
            super().__setattr__(key, value)
            return
        self.set(key, value)

    def get_default(self, key: str) -> Any:
        info = self.data_labels.get(key)
        return None if info is None else info.default

    # --- changing values ---
    def check_settable(self, key: str, is_api: bool = False) -> bool:
        """Raise when the command line freezes ``key``; False when the API may not touch it."""
        info = self.data_labels.get(key)
        r = self.restrictions
        if r.freeze_all:
            raise OptionFrozenError(key, "changing settings is disabled (--freeze-settings)")
        if info is not None and info.section and info.section[0] in r.frozen_sections:
            raise OptionFrozenError(key, f"settings in section {info.section[0]} are frozen (--freeze-settings-in-sections)")
        if key in r.frozen_keys:
            raise OptionFrozenError(key, "this setting is frozen (--freeze-specific-settings)")
        if key in r.hidden_dir_keys:
            raise OptionFrozenError(key, "directory settings are locked (--hide-ui-dir-config)")
        if is_api and info is not None and info.restrict_api:
            return False
        return True

    def validate(self, key: str, value: Any, is_api: bool = False) -> bool:
        """Raise if ``value`` may not be stored under ``key``; return False when the API must skip it."""
        if not self.check_settable(key, is_api):
            return False
        check_value_type(key, self.data_labels.get(key), value)
        return True

    def set(self, key: str, value: Any, is_api: bool = False, run_callbacks: bool = True) -> bool:
        """Store ``value``; True when it changed.  Type errors raise :class:`OptionValueError`."""
        old = self.data.get(key, self.get_default(key))
        if old == value and type(old) is type(value):
            return False
        if not self.validate(key, value, is_api):
            return False
        info = self.data_labels.get(key)
        if info is not None and info.do_not_save:
            return False
        self.data[key] = value
        if run_callbacks:
            try:
                self._run_onchange(key, info)
            except Exception:
                self.data[key] = old
                raise
        return True

    def set_many(self, values: dict[str, Any], is_api: bool = False) -> list[str]:
        """Validate every value first, then set them all; nothing changes when one is wrong."""
        accepted = {k: v for k, v in values.items() if self.validate(k, v, is_api)}
        changed = []
        for key, value in accepted.items():
            if self.set(key, value, is_api=is_api):
                changed.append(key)
        return changed

    def _run_onchange(self, key: str, info: OptionInfo | None) -> None:
        if info is not None and info.onchange is not None:
            info.onchange()
        for func in self._onchange_extra.get(key, []):
            func()

    def onchange(self, key: str, func: Callable[[], None], call: bool = True) -> None:
        """Call ``func`` whenever ``key`` changes (and now, when ``call``)."""
        info = self.data_labels.get(key)
        if info is not None:
            previous = info.onchange

            def chained() -> None:
                if previous is not None:
                    previous()
                func()

            info.onchange = chained
        else:
            self._onchange_extra.setdefault(key, []).append(func)
        if call:
            func()

    def add_option(self, key: str, info: OptionInfo) -> None:
        """Declare a setting (extensions call this from ``on_ui_settings``)."""
        self.data_labels[key] = info
        if key not in self.data or (key in self.data and not _same_kind(info.default, self.data[key])):
            self.data[key] = info.default

    # --- file ---
    def load(self, filename: str, aside_dir: str) -> int:
        """Read ``config.json``; returns how many values were rejected for their type."""
        self.config_filename = filename
        loaded = read_json_dict_or_move_aside(filename, aside_dir, "Settings file")
        bad = 0
        for key, value in loaded.items():
            info = self.data_labels.get(key)
            try:
                check_value_type(key, info, value)
            except OptionValueError as e:
                bad += 1
                print(f"Warning: bad setting value in {filename}: {e}; using the default", flush=True)
                continue
            self.data[key] = value
        return bad

    def save(self, filename: str | None = None) -> None:
        """Write every value (declared or not) to ``config.json`` atomically."""
        filename = filename or self.config_filename
        if filename is None:
            raise ValueError("no settings file to save to")
        to_save = {k: v for k, v in self.data.items() if not (k in self.data_labels and self.data_labels[k].do_not_save)}
        atomic_write_json(filename, to_save)

    def dumpjson(self) -> str:
        return json.dumps(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        """Every declared setting's current value (as the options API returns them), then unknown keys."""
        result = {k: self.data.get(k, info.default) for k, info in self.data_labels.items()}
        for k, v in self.data.items():
            result.setdefault(k, v)
        return result

    def same_type(self, x: Any, y: Any) -> bool:
        if x is None or y is None:
            return True
        return _same_kind(x, y)

    def cast_value(self, key: str, value: Any) -> Any:
        """Convert a UI string to the type of the option's default."""
        default = self.get_default(key)
        if value is None or default is None:
            return value
        expected = type(default)
        if expected is bool and isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes", "on")
        if expected in (int, float, str) and not isinstance(value, expected):
            return expected(value)
        return value


def _same_kind(x: Any, y: Any) -> bool:
    if x is None or y is None:
        return True
    return _kind(x) is _kind(y)
