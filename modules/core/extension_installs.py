"""Running extensions' ``install.py`` before the start.

A1111 runs every enabled extension's ``install.py`` on every start.  We run it
when it is **new or changed**: a fingerprint (mtime and size) of each extension's
``install.py`` is remembered in ``<data-dir>/cache/extension-installs.json`` after
a successful run, and an unchanged script is skipped.  A failed run is not
remembered, so it is tried again next start.

Each script runs in its own process with ``PYTHONPATH`` = the install root (so it
can ``import launch`` and call ``launch.run_pip``) and, as in A1111, the install
root as its working folder (some scripts use paths relative to it).  A failure is
printed with the extension's name and the script's output, and the start goes on.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Iterable

from modules.core.extensions import Extension
from modules.core.paths import INSTALL_DIR
from modules.core.commands import CommandError, Runner, run

CACHE_FILE_NAME = "extension-installs.json"
_CACHE_VERSION = 1


@dataclass
class InstallReport:
    """What :func:`run_extensions_installers` did."""

    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def installer_fingerprint(path: str) -> str:
    """A short hash of the file's modification time and size."""
    st = os.stat(path)
    return hashlib.sha256(f"{st.st_mtime_ns}:{st.st_size}".encode()).hexdigest()[:16]


def cache_path(cache_dir: str) -> str:
    """``<cache dir>/extension-installs.json``."""
    return os.path.join(cache_dir, CACHE_FILE_NAME)


def load_install_cache(cache_dir: str) -> dict[str, str]:
    """Extension path -> fingerprint of the last successful run (``{}`` when missing or corrupt)."""
    try:
        with open(cache_path(cache_dir), encoding="utf8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION or not isinstance(data.get("installers"), dict):
        return {}
    return {str(k): str(v) for k, v in data["installers"].items()}


def save_install_cache(cache_dir: str, installers: dict[str, str]) -> None:
    """Write the cache atomically (a crash never leaves half a file)."""
    os.makedirs(cache_dir, exist_ok=True)
    target = cache_path(cache_dir)
    tmp = f"{target}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf8") as file:
        json.dump({"version": _CACHE_VERSION, "installers": installers}, file, indent=2, sort_keys=True)
    os.replace(tmp, target)


def installer_env(install_dir: str = INSTALL_DIR, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for ``install.py``: ``PYTHONPATH`` starts with the install root."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (install_dir, env.get("PYTHONPATH", "")) if p)
    return env


def run_extension_installer(
    extension_dir: str,
    *,
    install_dir: str = INSTALL_DIR,
    python: str | None = None,
    runner: Runner = run,
) -> str | None:
    """Run ``<extension_dir>/install.py`` if it exists; returns ``None`` on success, else the error text (printed)."""
    script = os.path.join(extension_dir, "install.py")
    if not os.path.isfile(script):
        return None
    name = os.path.basename(os.path.normpath(extension_dir))
    try:
        output = runner([python or sys.executable, script], errdesc=f"Error running install.py for extension {name}",
                        custom_env=installer_env(install_dir), live=False,
                        cwd=install_dir if os.path.isdir(install_dir) else None)
    except CommandError as e:
        print(f"*** {e}", file=sys.stderr)
        return str(e)
    if output and output.strip():
        print(output.strip())
    return None


def run_extensions_installers(
    extensions: Iterable[Extension],
    *,
    cache_dir: str,
    install_dir: str = INSTALL_DIR,
    python: str | None = None,
    runner: Runner = run,
) -> InstallReport:
    """Run the ``install.py`` of each enabled extension that is new or changed since its last successful run."""
    report = InstallReport()
    cache = load_install_cache(cache_dir)
    changed = False
    for ext in extensions:
        if not ext.enabled or not os.path.isfile(ext.install_script):
            continue
        key = os.path.abspath(ext.path)
        fingerprint = installer_fingerprint(ext.install_script)
        if cache.get(key) == fingerprint:
            report.skipped.append(ext.name)
            continue
        error = run_extension_installer(ext.path, install_dir=install_dir, python=python, runner=runner)
        if error is None:
            report.ran.append(ext.name)
            cache[key] = fingerprint
            changed = True
        else:
            report.failed[ext.name] = error
            changed = cache.pop(key, None) is not None or changed
    if changed:
        try:
            save_install_cache(cache_dir, cache)
        except OSError as e:
            print(f"Could not remember extension installs in {cache_path(cache_dir)}: {e}")
    return report
