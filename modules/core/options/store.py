"""The live settings object (``shared.opts``) and its ``config.json`` file.

Every change is checked against its setting first (:mod:`modules.core.options.validation`:
type, range, choices, image formats, name patterns, output folders, valid Unicode),
and :meth:`Options.set_many` is all-or-nothing: every value is checked before any
is applied, and when an ``onchange`` handler or the save fails, every value goes
back.  The file is serialised before anything is written, written to a
temporary file beside it and swapped in with ``os.replace``, so a failed save
leaves the old file; temporary files an interrupted save left are removed at
start-up (:func:`remove_stale_temp_files`).  A corrupt file is moved aside
instead of stopping the server, and keys nobody declared (an extension that is
not loaded right now, say) are kept and written back untouched.

While extension access is off (``--listen``, ``--share``, ``--ngrok`` or
``--server-name`` without ``--enable-insecure-extension-access``), the settings
that choose which code runs (:data:`~modules.core.options.catalogue.EXTENSION_OPTS`)
cannot be changed, and :attr:`Options.startup_extension_settings` keeps the
values read at start-up for the extension loader.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from modules.core.cmd_args import extension_access_allowed
from modules.core.options.catalogue import EXTENSION_OPTS
from modules.core.options.errors import OptionFrozenError, OptionValueError
from modules.core.options.option_info import OptionInfo
from modules.core.options.validation import PathPolicy, check_option_value, same_kind

log = logging.getLogger(__name__)

__all__ = [
    "OptionFrozenError", "OptionValueError", "Options", "SettingsRestrictions", "atomic_write_json",
    "check_value_type", "read_json_dict_or_move_aside", "remove_stale_temp_files",
]

TEMP_PREFIX = ".tmp-"
"""Temporary files of a save are named ``.tmp-<file name><random>`` beside the file."""

STALE_TEMP_AGE_S = 60.0
"""A temporary file older than this at start-up is left from an interrupted save (a newer one may be
another server's save in progress)."""

EXTENSION_ACCESS_OFF = ("extension settings cannot be changed while extension access is off (the server listens "
                        "on the network: --listen, --share, --ngrok or --server-name without "
                        "--enable-insecure-extension-access)")


@dataclass
class SettingsRestrictions:
    """What the command line forbids changing, and where output folders may be."""

    freeze_all: bool = False
    frozen_sections: frozenset[str] = frozenset()
    frozen_keys: frozenset[str] = frozenset()
    hidden_dir_keys: frozenset[str] = frozenset()
    extension_access: bool = True
    """False while extension access is off: :data:`EXTENSION_OPTS` are frozen."""
    paths: PathPolicy = field(default_factory=PathPolicy)
    """Where ``outdir_*``, ``temp_dir`` and other output paths may point."""

    @classmethod
    def from_cmd_opts(cls, cmd_opts: Any, dir_keys: Iterable[str] = ()) -> "SettingsRestrictions":
        def split(value: str | None) -> frozenset[str]:
            return frozenset(x.strip() for x in (value or "").split(",") if x.strip())

        return cls(
            freeze_all=bool(getattr(cmd_opts, "freeze_settings", False)),
            frozen_sections=split(getattr(cmd_opts, "freeze_settings_in_sections", None)),
            frozen_keys=split(getattr(cmd_opts, "freeze_specific_settings", None)),
            hidden_dir_keys=frozenset(dir_keys) if getattr(cmd_opts, "hide_ui_dir_config", False) else frozenset(),
            extension_access=extension_access_allowed(cmd_opts),
            paths=PathPolicy(getattr(cmd_opts, "data_dir", None), tuple(getattr(cmd_opts, "gradio_allowed_path", None) or ())),
        )


def serialise_json(data: Any) -> bytes:
    """``data`` as the UTF-8 bytes of indented JSON; ``ValueError``/``TypeError`` when it cannot be written
    (a lone surrogate, NaN, an object JSON has no form for)."""
    return json.dumps(data, indent=4, ensure_ascii=False, allow_nan=False).encode("utf-8")


def write_bytes_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX + os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically; nothing is written when it does not serialise."""
    write_bytes_atomically(path, serialise_json(data))


def remove_stale_temp_files(path: str, older_than_s: float = STALE_TEMP_AGE_S) -> list[str]:
    """Delete the temporary files an interrupted save of ``path`` left beside it; returns what was removed."""
    directory = os.path.dirname(os.path.abspath(path))
    prefix = TEMP_PREFIX + os.path.basename(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    removed = []
    now = time.time()
    for name in names:
        candidate = os.path.join(directory, name)
        if not name.startswith(prefix) or not os.path.isfile(candidate) or os.path.islink(candidate):
            continue
        try:
            if now - os.path.getmtime(candidate) < older_than_s:
                continue
            os.unlink(candidate)
        except OSError as e:
            log.warning("could not remove the leftover temporary file %s: %s", candidate, e)
            continue
        removed.append(candidate)
    return removed


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
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        os.makedirs(aside_dir, exist_ok=True)
        target = os.path.join(aside_dir, os.path.basename(path))
        if os.path.exists(target):
            stem, ext = os.path.splitext(os.path.basename(path))
            target = os.path.join(aside_dir, f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}{ext}")
        os.replace(path, target)
        log.warning("%s %s could not be read (%s); it was moved to %s and defaults are used", what, path, e, target)
        print(f"*** {what} {path} could not be read ({e}); moved to {target}, using defaults", flush=True)
        return {}


_SKIP = object()
_ABSENT = object()


def _unchanged(old: Any, new: Any) -> bool:
    return old == new and type(old) is type(new)


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
        super().__setattr__("startup_extension_settings", self._extension_settings())

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

    def _current(self, key: str) -> Any:
        return self.data[key] if key in self.data else self.get_default(key)

    def _extension_settings(self) -> dict[str, Any]:
        return {k: self._current(k) for k in sorted(EXTENSION_OPTS)}

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
        if key in EXTENSION_OPTS and not r.extension_access:
            raise OptionFrozenError(key, EXTENSION_ACCESS_OFF)
        if is_api and info is not None and info.restrict_api:
            return False
        return True

    def _prepared(self, key: str, value: Any, is_api: bool) -> Any:
        """The value to store under ``key``, or ``_SKIP`` when nothing is to be stored; raises when refused.

        An unchanged value is skipped before any check (as A1111), so a client
        posting back the whole options answer is not refused for frozen keys.
        """
        if _unchanged(self._current(key), value):
            return _SKIP
        if not self.check_settable(key, is_api):
            return _SKIP
        info = self.data_labels.get(key)
        if info is not None and info.do_not_save:
            return _SKIP
        return check_option_value(key, info, value, policy=self.restrictions.paths, live=True)

    def validate(self, key: str, value: Any, is_api: bool = False) -> bool:
        """Raise if ``value`` may not be stored under ``key``; False when nothing would be stored
        (the value is unchanged, the API may not change the setting, or it is never saved)."""
        return self._prepared(key, value, is_api) is not _SKIP

    def set(self, key: str, value: Any, is_api: bool = False, run_callbacks: bool = True) -> bool:
        """Store ``value``; True when it changed.  Refused values raise :class:`OptionValueError`
        (or :class:`OptionFrozenError`); a failing ``onchange`` puts the old value back and re-raises."""
        return bool(self.set_many({key: value}, is_api=is_api, run_callbacks=run_callbacks))

    def set_many(self, values: Mapping[str, Any], is_api: bool = False, *, run_callbacks: bool = True,
                 save: bool = False) -> list[str]:
        """Check every value, then set them all; returns the keys that changed.

        All or nothing: a refused value raises before anything changes; an
        ``onchange`` handler that fails, or (with ``save``) a ``config.json`` that
        cannot be written, puts every value back (the handlers of the ones already
        applied run again for the old values) and re-raises.
        """
        pending: dict[str, Any] = {}
        for key, value in values.items():
            prepared = self._prepared(key, value, is_api)
            if prepared is not _SKIP:
                pending[key] = prepared
        if not pending:
            return []
        if save:
            self._serialised({**self.data, **pending})  # a value that cannot be written is refused before any change
        previous = {key: self.data.get(key, _ABSENT) for key in pending}
        handled: list[str] = []
        try:
            for key, value in pending.items():
                self.data[key] = value
                if run_callbacks:
                    self._run_onchange(key, self.data_labels.get(key))
                    handled.append(key)
            if save:
                self.save()
        except BaseException:
            self._roll_back(previous, handled)
            raise
        return list(pending)

    def _roll_back(self, previous: dict[str, Any], handled: list[str]) -> None:
        for key, old in previous.items():
            if old is _ABSENT:
                self.data.pop(key, None)
            else:
                self.data[key] = old
        # the handlers that ran (a checkpoint loaded...) run again so the app follows the old values
        for key in reversed(handled):
            try:
                self._run_onchange(key, self.data_labels.get(key))
            except Exception:
                log.exception("restoring %s after a failed change", key)

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
        """Declare a setting (extensions call this from ``on_ui_settings``).

        A value ``config.json`` already held for it is kept when it fits the
        setting, else the default is used (and said).
        """
        self.data_labels[key] = info
        if key not in self.data:
            self.data[key] = info.default
            return
        try:
            self.data[key] = check_option_value(key, info, self.data[key], policy=None, live=False)
        except OptionValueError as e:
            print(f"Warning: bad setting value {e}; using the default", flush=True)
            self.data[key] = info.default

    # --- file ---
    def load(self, filename: str, aside_dir: str) -> int:
        """Read ``config.json``; returns how many values were rejected (they keep their defaults).

        Values are checked as when they are set, except for choices the running
        app lists (nothing is listed yet) and where output folders point (the
        operator wrote this file).
        """
        self.config_filename = filename
        loaded = read_json_dict_or_move_aside(filename, aside_dir, "Settings file")
        bad = 0
        for key, value in loaded.items():
            try:
                self.data[key] = check_option_value(key, self.data_labels.get(key), value, policy=None, live=False)
            except OptionValueError as e:
                bad += 1
                print(f"Warning: bad setting value in {filename}: {e}; using the default", flush=True)
        self.startup_extension_settings = self._extension_settings()
        return bad

    def _serialised(self, data: Mapping[str, Any]) -> bytes:
        to_save = {k: v for k, v in data.items() if not (k in self.data_labels and self.data_labels[k].do_not_save)}
        try:
            return serialise_json(to_save)
        except (TypeError, ValueError) as e:
            for key, value in to_save.items():  # name the setting that cannot be written
                try:
                    serialise_json(value)
                except (TypeError, ValueError):
                    raise OptionValueError(key, f"cannot be written to config.json ({e})") from e
            raise

    def save(self, filename: str | None = None) -> None:
        """Write every value (declared or not) to ``config.json`` atomically.

        The whole file is serialised first (:class:`OptionValueError` naming the
        setting when one cannot be), then written to a temporary file beside it
        and swapped in; on any failure the old file stays as it was.
        """
        filename = filename or self.config_filename
        if filename is None:
            raise ValueError("no settings file to save to")
        write_bytes_atomically(filename, self._serialised(self.data))

    def dumpjson(self) -> str:
        return json.dumps(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        """Every declared setting's current value (as the options API returns them), then unknown keys."""
        result = {k: self.data.get(k, info.default) for k, info in self.data_labels.items()}
        for k, v in self.data.items():
            result.setdefault(k, v)
        return result

    def same_type(self, x: Any, y: Any) -> bool:
        return same_kind(x, y)

    def cast_value(self, key: str, value: Any) -> Any:
        """Convert a UI or infotext string to the type of the option's default
        (:class:`OptionValueError` when it has no such form)."""
        default = self.get_default(key)
        if value is None or default is None:
            return value
        expected = type(default)
        if expected is bool and isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes", "on")
        if expected in (int, float, str) and not isinstance(value, expected):
            try:
                if expected is int and not isinstance(value, bool):
                    number = float(value)
                    return int(number) if number.is_integer() else number
                return expected(value)
            except (TypeError, ValueError, OverflowError):
                raise OptionValueError(key, f"{value!r} is not a {expected.__name__}") from None
        return value
