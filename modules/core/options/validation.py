"""What a setting may hold, checked the same way for every road a value takes in.

The options API, a generation's ``override_settings``, the Settings tab, the
quicksettings, a pasted infotext and ``config.json`` itself all end in
:func:`check_option_value`, so a value that would break the server later (a
string the JSON writer cannot encode, a number no component allows, an image
format Pillow cannot write, a folder outside the data dir) is refused when it
arrives, with :class:`~modules.core.options.errors.OptionValueError` naming the
setting, and nothing changes.

Rules, in order:

* every value is plain JSON: ``None``, booleans, finite numbers no larger than
  2**53 (the browser shows settings), valid Unicode strings (no lone surrogate),
  lists and objects with string keys, nested at most :data:`MAX_NESTING` deep;
* a declared setting keeps the type of its default (an int and a float are one
  type; a whole-number setting gets an int);
* numbers stay inside the component's ``minimum``/``maximum`` and
  :data:`~modules.core.options.catalogue.NUMBER_LIMITS`;
* a value with choices is one of them: fixed choices always, choices listed by
  the running app (checkpoints, VAEs, upscalers, samplers...) when the app lists
  any; a custom value is accepted where the component allows one;
* image formats, name patterns and output folders follow their own rules
  (:data:`~modules.core.options.catalogue.IMAGE_FORMAT_OPTS`, ``FILENAME_PATTERN_OPTS``,
  ``OUTPUT_DIR_OPTS``/``OUTPUT_FILE_OPTS``).
"""
from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from typing import Any

from modules.core.options import catalogue
from modules.core.options.errors import OptionValueError
from modules.core.options.option_info import OptionInfo

log = logging.getLogger(__name__)

MAX_NESTING = 32
"""How deep lists and objects may nest inside one value."""

MAX_MAGNITUDE = 2 ** 53
"""The largest number a setting may hold: beyond it the page's JavaScript loses digits."""

PLACEHOLDER_CHOICES = frozenset({"Automatic", "None"})
"""Entries a choices function always lists; a list of only these means the app listed nothing yet."""

KEPT_DATA_FOLDERS = ("outputs", "log", "models", "embeddings", "extensions", "config_states")
"""Folders of the data dir that ``temp_dir`` may not be, hold or lie in: its PNG files are deleted at start."""

PATH_FLAG_HINT = "--gradio-allowed-path"
"""The command-line flag that lets output folders live outside the data dir."""

_TYPE_NAMES = {bool: "boolean", float: "number", str: "string", list: "list", dict: "object"}
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class PathPolicy:
    """Where output folders may be: the data dir and the folders of ``--gradio-allowed-path``.

    Without a data dir (a bare :class:`~modules.core.options.store.Options` in a
    tool or a test) folders are not checked; the bootstrap always gives one.
    """

    data_dir: str | None = None
    allowed_dirs: tuple[str, ...] = ()

    def roots(self) -> list[str]:
        """The folders (absolute, normalised) output paths must stay inside."""
        return [os.path.normpath(os.path.abspath(d)) for d in (self.data_dir, *self.allowed_dirs) if d]


def _shown(value: Any, limit: int = 200) -> str:
    """``repr(value)`` for a message, cut so a huge value does not come back whole in the answer."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _kind(value: Any) -> type:
    # int and float are one kind (A1111 maps int to float); bool is its own kind
    if isinstance(value, bool):
        return bool
    if isinstance(value, (int, float)):
        return float
    if isinstance(value, tuple):
        return list
    return type(value)


def same_kind(x: Any, y: Any) -> bool:
    """True when ``x`` and ``y`` are of one settings type (or either is ``None``)."""
    if x is None or y is None:
        return True
    return _kind(x) is _kind(y)


# --- plain JSON ---------------------------------------------------------------------------------------------------

def check_text(key: str, text: str) -> None:
    """Refuse a string that cannot be written as UTF-8 (a lone surrogate such as ``"\\ud800"``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise OptionValueError(key, f"text is not valid Unicode (character {e.start} is a lone surrogate)") from None


def check_json_value(key: str, value: Any, depth: int = 0) -> None:
    """Refuse anything ``config.json`` and the options answer could not hold (see the module docstring)."""
    if depth > MAX_NESTING:
        raise OptionValueError(key, f"nested more than {MAX_NESTING} levels deep")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise OptionValueError(key, f"expected a finite number, got {_shown(value)}")
        if abs(value) > MAX_MAGNITUDE:
            raise OptionValueError(key, f"number {_shown(value)} is too large (the limit is 2**53)")
        return
    if isinstance(value, str):
        check_text(key, value)
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            check_json_value(key, item, depth + 1)
        return
    if isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str):
                raise OptionValueError(key, f"object keys must be strings, got {type(name).__name__}")
            check_text(key, name)
            check_json_value(key, item, depth + 1)
        return
    raise OptionValueError(key, f"a {type(value).__name__} cannot be stored in config.json")


# --- type ---------------------------------------------------------------------------------------------------------

def _component_args(info: OptionInfo) -> dict:
    try:
        return info.resolved_component_args()
    except Exception:  # an extension's arguments function failing must not make its setting unchangeable
        log.exception("component arguments of a setting could not be read; its range and choices are not checked")
        return {}


def _whole_numbers_only(info: OptionInfo, args: dict) -> bool:
    default = info.default
    if not isinstance(default, int) or isinstance(default, bool):
        return False
    if info.component_name == "Slider":
        step = args.get("step", 1)
        return step is None or float(step).is_integer()
    if info.component_name == "Number":
        return args.get("precision") == 0
    return True


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
        raise OptionValueError(key, f"expected {expected}, got {type(value).__name__} {_shown(value)}")
    if _whole_numbers_only(info, _component_args(info)) and isinstance(value, float) and not value.is_integer():
        raise OptionValueError(key, f"expected a whole number, got {_shown(value)}")


# --- range and choices --------------------------------------------------------------------------------------------

def _check_range(key: str, value: float, args: dict) -> None:
    extra_low, extra_high = catalogue.NUMBER_LIMITS.get(key, (None, None))
    low = args.get("minimum") if isinstance(args.get("minimum"), (int, float)) else None
    high = args.get("maximum") if isinstance(args.get("maximum"), (int, float)) else None
    if extra_low is not None:
        low = extra_low if low is None else max(low, extra_low)
    if extra_high is not None:
        high = extra_high if high is None else min(high, extra_high)
    if low is not None and value < low or high is not None and value > high:
        bounds = f"between {low} and {high}" if low is not None and high is not None else (
            f"at least {low}" if low is not None else f"at most {high}")
        raise OptionValueError(key, f"{_shown(value)} is out of range: must be {bounds}")


def _choice_values(choices: Any) -> list:
    # gradio 4 also takes (label, value) pairs
    return [c[1] if isinstance(c, (tuple, list)) and len(c) == 2 else c for c in choices or []]


def _check_choices(key: str, info: OptionInfo, value: Any, args: dict, live: bool) -> None:
    if value is None and info.default is None:
        return
    check = catalogue.LIVE_CHOICE_CHECKS.get(key)
    if check is not None:
        problem = check(value) if live else None
        if problem:
            raise OptionValueError(key, problem)
        return
    if "choices" not in args or args.get("allow_custom_value"):
        return
    items = value if isinstance(value, list) else [value]
    if key in catalogue.FREE_LIST_OPTS:
        for item in items:
            if not isinstance(item, str):
                raise OptionValueError(key, f"expected names (strings), got {type(item).__name__} {_shown(item)}")
        return
    listed_by_app = callable(info.component_args)
    if listed_by_app and not live:
        return
    choices = _choice_values(args.get("choices"))
    if listed_by_app and all(isinstance(c, str) and c in PLACEHOLDER_CHOICES for c in choices):
        return  # the part of the app that lists them is not there (yet): nothing to check against
    for item in items:
        if item not in choices:
            shown = ", ".join(repr(c) for c in choices[:20]) + (", ..." if len(choices) > 20 else "")
            raise OptionValueError(key, f"{_shown(item)} is not one of the choices: {shown}")


# --- image formats, name patterns, folders ------------------------------------------------------------------------

def writable_image_formats() -> list[str]:
    """The extensions of :data:`~modules.core.options.catalogue.IMAGE_FORMATS` that Pillow can write here."""
    from PIL import Image  # only when a format is checked: the catalogue must not need Pillow

    registered = Image.registered_extensions()  # also loads Pillow's plugins, filling Image.SAVE
    return [ext for ext in catalogue.IMAGE_FORMATS if registered.get(f".{ext}") in Image.SAVE]


def check_image_format(key: str, value: str) -> None:
    """``png``, ``jpg``, ``webp``... (any case); never a path or a format Pillow cannot write."""
    formats = writable_image_formats()
    if value.lower() not in formats:
        raise OptionValueError(key, f"{_shown(value)} is not an image format; use one of: {', '.join(formats)}")


def _escapes(path: str) -> bool:
    """True when ``path`` is absolute or climbs out of the folder it is joined to (a ``..`` part)."""
    if os.path.isabs(path) or path.startswith(("/", "\\")) or _DRIVE.match(path):
        return True
    return any(part.strip() == ".." for part in re.split(r"[/\\]", path))


def check_filename_pattern(key: str, value: str) -> None:
    """A name pattern such as ``[date]`` or ``[seed]-[prompt_spaces]`` stays inside the output folder."""
    if "\x00" in value:
        raise OptionValueError(key, "the pattern holds a NUL character")
    if _escapes(value):
        raise OptionValueError(key, f"{_shown(value)} would leave the output folder: absolute paths and '..' are not allowed")


def check_output_path(key: str, value: str, policy: PathPolicy) -> None:
    """An output folder or file is empty (the default), or inside the data dir or an allowed folder."""
    if value == "":
        return
    if "\x00" in value:
        raise OptionValueError(key, "the path holds a NUL character")
    roots = policy.roots()
    if not roots:
        return
    # lexical, so a data dir whose outputs folder is a symlink to another disk keeps working
    target = os.path.normpath(os.path.join(roots[0], value))
    if not any(_within(target, root) for root in roots):
        raise OptionValueError(key, f"{_shown(value)} is outside the data dir ({roots[0]}); a folder elsewhere must be "
                                    f"allowed on the command line with {PATH_FLAG_HINT} <folder>")
    if key == "temp_dir":
        kept = [os.path.join(roots[0], name) for name in KEPT_DATA_FOLDERS]
        if any(_within(root, target) for root in roots) or any(
                _within(target, folder) or _within(folder, target) for folder in kept):
            raise OptionValueError(key, f"{_shown(value)} would share files with the data dir's own folders "
                                        f"({', '.join(KEPT_DATA_FOLDERS)}), whose pictures the temporary folder's "
                                        "clean-up at start (clean_temp_dir_at_start) would delete; use a folder of its own")


def _within(path: str, folder: str) -> bool:
    return path == folder or os.path.commonpath([path, folder]) == folder


def _holds_names(key: str, info: OptionInfo) -> bool:
    # the extension list is put in a set at start-up: one unhashable item would stop the server
    default = info.default
    return key in catalogue.EXTENSION_OPTS or (isinstance(default, list) and bool(default)
                                                and all(isinstance(x, str) for x in default))


# --- everything ---------------------------------------------------------------------------------------------------

def check_option_value(key: str, info: OptionInfo | None, value: Any, *, policy: PathPolicy | None = None,
                       live: bool = True) -> Any:
    """The value to store under ``key``, or :class:`OptionValueError` naming why it cannot be stored.

    ``policy`` says where output folders may be (``None``: folders are not
    checked, as for ``config.json``, which the operator wrote); ``live`` checks
    choices the running app lists (off while ``config.json`` is read, before
    anything is listed).
    """
    check_json_value(key, value)
    if info is None:
        return value
    check_value_type(key, info, value)
    args = _component_args(info)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_range(key, value, args)
        if isinstance(value, float) and _whole_numbers_only(info, args):
            value = int(value)  # Pillow and the samplers want an int where the setting is one
    if isinstance(value, list) and _holds_names(key, info):
        for item in value:
            if not isinstance(item, str):
                raise OptionValueError(key, f"expected a list of names (strings), got {type(item).__name__} {_shown(item)}")
    _check_choices(key, info, value, args, live)
    if isinstance(value, str):
        if key in catalogue.IMAGE_FORMAT_OPTS:
            check_image_format(key, value)
        elif key in catalogue.FILENAME_PATTERN_OPTS:
            check_filename_pattern(key, value)
        elif key in catalogue.OUTPUT_DIR_OPTS or key in catalogue.OUTPUT_FILE_OPTS:
            if policy is not None:
                check_output_path(key, value, policy)
    return value
