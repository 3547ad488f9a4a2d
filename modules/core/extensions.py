"""Which extensions exist and which are enabled (no torch, no gradio).

Extensions are the folders of ``extensions-builtin/`` (built-ins) and then of the
data dir's ``extensions/``, each sorted by name.  One is disabled when its name is
in setting ``disabled_extensions``, or by setting ``disable_all_extensions``
(``none`` / ``extra`` = only built-ins stay enabled / ``all``) and the flags
``--disable-extra-extensions`` (like ``extra``) and ``--disable-all-extensions``
(like ``all``).  Disabled extensions are still listed, with ``enabled=False``,
so the Extensions tab can show them.

Each extension's ``metadata.ini`` is read into :class:`ExtensionMetadata`:

```ini
[Extension]
# canonical name (default: the folder name), compared lower-cased
Name = my-extension
# extensions this one needs; "a|b" means whichever of the two is installed
Requires = other-ext, a|b

# [scripts] applies to every script of the extension, [scripts/<file>] to one;
# Requires / Before / After name scripts ("other-ext/x.py") or whole extensions
[scripts/main.py]
Before = another-ext

# one callback's place among the callbacks of its category
[callbacks/my-extension/main.py/app_started]
After = other-ext/x.py/app_started
```

A later extension whose canonical name is already taken is left out (reported),
as A1111 does.
"""
from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, field
from typing import Any, Collection, Iterable, Iterator, Mapping

from modules.core.cmd_args import extension_access_allowed
from modules.core.errors import report as _report
from modules.core.paths import DataPaths


@dataclass(frozen=True)
class ScriptFile:
    """A script file to load: its extension folder (or the install root), file name and path (A1111's ``ScriptFile``)."""

    basedir: str
    filename: str
    path: str


@dataclass(frozen=True)
class CallbackOrderInfo:
    """A ``[callbacks/<name>]`` section: the callback ``name`` runs before/after the callbacks named."""

    name: str
    before: list[str]
    after: list[str]


def parse_list(text: str) -> list[str]:
    """``"ext1 ext2, ext3  "`` -> ``["ext1", "ext2", "ext3"]`` (commas and spaces both separate)."""
    return [x for x in re.split(r"[,\s]+", text.strip()) if x] if text else []


class ExtensionMetadata:
    """An extension's ``metadata.ini`` (missing or unreadable file: no requirements, folder name as canonical name)."""

    filename = "metadata.ini"

    def __init__(self, path: str, canonical_name: str) -> None:
        # no interpolation: a '%' in a value must not make the whole file unreadable
        self.config = configparser.ConfigParser(interpolation=None)
        filepath = os.path.join(path, self.filename)
        try:
            self.config.read(filepath, encoding="utf8")
        except (configparser.Error, UnicodeDecodeError) as e:
            _report(f"Error reading {self.filename} for extension {canonical_name}: {e}")
            self.config = configparser.ConfigParser(interpolation=None)
        name = self.config.get("Extension", "Name", fallback="").strip()
        # A1111 1.10.1 read Name but then overwrote it with the folder name (fixed on its dev branch);
        # honouring it is what extension authors wrote it for
        self.canonical_name = (name or canonical_name).lower().strip()
        """The name other extensions and ``metadata.ini`` sections use for this one."""
        self.requires: list[str] = []
        """``[Extension] Requires``, resolved against the installed extensions by :func:`list_extensions`."""

    def get_script_requirements(self, field_name: str, section: str, extra_section: str | None = None,
                                known: Collection[str] = ()) -> list[str]:
        """Names listed under ``field_name`` (``Requires``/``Before``/``After``) in ``[section]`` and ``[extra_section]``.

        An entry ``a|b`` becomes the first of ``a``, ``b`` found in ``known``
        (canonical names of installed extensions), else stays as written.
        """
        text = self.config.get(section, field_name, fallback="")
        if extra_section:
            text += ", " + self.config.get(extra_section, field_name, fallback="")
        result = []
        for requirement in parse_list(text.lower()):
            choices = requirement.split("|")
            result.append(next((x for x in choices if x in known), requirement))
        return result

    def list_callback_order_instructions(self) -> Iterator[CallbackOrderInfo]:
        """The ``[callbacks/...]`` sections; one naming another extension's callback is reported and skipped."""
        for section in self.config.sections():
            if not section.startswith("callbacks/"):
                continue
            name = section[len("callbacks/"):]
            if not name.startswith(self.canonical_name):
                _report(f"Callback order section for extension {self.canonical_name} is referencing the wrong "
                        f"extension: {section}")
                continue
            yield CallbackOrderInfo(name, parse_list(self.config.get(section, "Before", fallback="")),
                                    parse_list(self.config.get(section, "After", fallback="")))


@dataclass
class Extension:
    """An extension folder (A1111's ``modules.extensions.Extension``, the parts known without git)."""

    name: str
    path: str
    is_builtin: bool = False
    enabled: bool = True
    metadata: ExtensionMetadata | None = field(default=None, repr=False, compare=False)
    """The parsed ``metadata.ini`` (set by :func:`list_extensions`)."""

    @property
    def canonical_name(self) -> str:
        """The name as A1111 compares it: ``[Extension] Name`` of ``metadata.ini``, else the folder name, lower case."""
        return self.metadata.canonical_name if self.metadata is not None else self.name.lower()

    def list_files(self, subdir: str, extension: str) -> list[ScriptFile]:
        """Files of ``<extension>/<subdir>`` ending in ``extension`` (``".py"``), sorted by name."""
        dirpath = os.path.join(self.path, subdir)
        try:
            names = sorted(os.listdir(dirpath))
        except OSError:
            return []
        files = [ScriptFile(self.path, n, os.path.join(dirpath, n)) for n in names]
        return [f for f in files if os.path.splitext(f.path)[1].lower() == extension and os.path.isfile(f.path)]

    @property
    def scripts_dir(self) -> str:
        """``<extension>/scripts``: the ``Script`` files it ships."""
        return os.path.join(self.path, "scripts")

    @property
    def install_script(self) -> str:
        """``<extension>/install.py``: run by the launcher before start."""
        return os.path.join(self.path, "install.py")

    @property
    def preload_script(self) -> str:
        """``<extension>/preload.py``: adds command-line flags through ``preload(parser)``."""
        return os.path.join(self.path, "preload.py")


def _flag(cmd_opts: Any, name: str) -> bool:
    return bool(getattr(cmd_opts, name, False)) if cmd_opts is not None else False


def disable_mode(settings: Mapping[str, Any], cmd_opts: Any = None) -> str:
    """``none``, ``extra`` (only built-ins enabled) or ``all``, from flags first, then the setting."""
    if _flag(cmd_opts, "disable_all_extensions"):
        return "all"
    if _flag(cmd_opts, "disable_extra_extensions"):
        return "extra"
    mode = settings.get("disable_all_extensions", "none")
    return mode if mode in ("none", "extra", "all") else "none"


def disabled_reason(settings: Mapping[str, Any], cmd_opts: Any = None) -> str | None:
    """A message to print when extensions are disabled globally, else ``None``."""
    if _flag(cmd_opts, "disable_all_extensions"):
        return '*** "--disable-all-extensions" arg was used, will not load any extensions ***'
    if _flag(cmd_opts, "disable_extra_extensions"):
        return '*** "--disable-extra-extensions" arg was used, will only load built-in extensions ***'
    mode = disable_mode(settings, cmd_opts)
    if mode == "all":
        return '*** "Disable all extensions" option was set, will not load any extensions ***'
    if mode == "extra":
        return '*** "Disable all extensions" option was set, will only load built-in extensions ***'
    return None


def _folders(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    # hidden folders and caches are not extensions
    return [n for n in names if not n.startswith((".", "__")) and os.path.isdir(os.path.join(directory, n))]


def _enabled_by(settings: Mapping[str, Any], cmd_opts: Any) -> Any:
    """``(name, is_builtin) -> bool`` for the disabled list and the "Disable all extensions" mode of ``settings``."""
    disabled = {x for x in settings.get("disabled_extensions") or [] if isinstance(x, str)}
    mode = disable_mode(settings, cmd_opts)
    return lambda name, is_builtin: name not in disabled and mode != "all" and (is_builtin or mode != "extra")


def _extension_access_off(cmd_opts: Any) -> bool:
    return cmd_opts is not None and not extension_access_allowed(cmd_opts)


def list_extensions(paths: DataPaths, settings: Mapping[str, Any] | None = None, cmd_opts: Any = None, *,
                    startup_settings: Mapping[str, Any] | None = None) -> list[Extension]:
    """All extensions, built-ins first, each marked enabled or not (see the module docstring).

    ``startup_settings`` are the extension settings as ``config.json`` held them
    at start-up (``Options.startup_extension_settings``).  While extension access
    is off (``--listen`` and friends without ``--enable-insecure-extension-access``)
    an extension they disable stays disabled, whatever the settings say now: a
    later list (Reload UI, a refresh) never turns on code the operator left off.
    """
    settings = settings or {}
    enabled_now = _enabled_by(settings, cmd_opts)
    enabled_at_start = (_enabled_by(startup_settings, cmd_opts)
                        if startup_settings is not None and _extension_access_off(cmd_opts) else None)
    result: list[Extension] = []
    by_canonical: dict[str, Extension] = {}
    for directory, is_builtin in ((paths.extensions_builtin_dir, True), (paths.extensions_dir, False)):
        for name in _folders(directory):
            path = os.path.join(directory, name)
            metadata = ExtensionMetadata(path, name)
            earlier = by_canonical.get(metadata.canonical_name)
            if earlier is not None:
                _report(f'Duplicate canonical name "{metadata.canonical_name}" found in extensions "{name}" and '
                        f'"{earlier.name}". Former will be discarded.')
                continue
            enabled = enabled_now(name, is_builtin) and (enabled_at_start is None or enabled_at_start(name, is_builtin))
            ext = Extension(name=name, path=path, is_builtin=is_builtin, enabled=enabled, metadata=metadata)
            by_canonical[metadata.canonical_name] = ext
            result.append(ext)
    for ext in result:
        assert ext.metadata is not None
        ext.metadata.requires = ext.metadata.get_script_requirements("Requires", "Extension", known=by_canonical)
    return result


def active_extensions(paths: DataPaths, settings: Mapping[str, Any] | None = None, cmd_opts: Any = None) -> list[Extension]:
    """The enabled extensions, in load order."""
    return [ext for ext in list_extensions(paths, settings, cmd_opts) if ext.enabled]


def requirement_problems(extensions: Iterable[Extension]) -> list[str]:
    """A message for each requirement (``[Extension] Requires``) of an enabled extension that is missing or disabled."""
    extensions = list(extensions)
    by_canonical = {ext.canonical_name: ext for ext in extensions}
    problems = []
    for ext in extensions:
        if not ext.enabled or ext.metadata is None:
            continue
        for req in ext.metadata.requires:
            required = by_canonical.get(req)
            if required is None:
                problems.append(f'Extension "{ext.name}" requires "{req}" which is not installed.')
            elif not required.enabled:
                problems.append(f'Extension "{ext.name}" requires "{required.name}" which is disabled.')
    return problems


def find_extension(filename: str, extensions: Iterable[Extension]) -> Extension | None:
    """The extension whose folder holds ``filename`` (symlinks resolved), or ``None`` (install root, elsewhere)."""
    by_path = {os.path.realpath(ext.path): ext for ext in extensions}
    current = os.path.realpath(filename)
    parent = os.path.dirname(current)
    while parent != current:
        ext = by_path.get(parent)
        if ext is not None:
            return ext
        current, parent = parent, os.path.dirname(parent)
    return None
