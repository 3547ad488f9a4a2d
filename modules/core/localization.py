"""Localizations (A1111's ``modules.localization``): JSON files mapping the page's English texts to another
language, from ``--localizations-dir`` and each active extension's ``localizations/`` folder.

The page translates itself (``javascript/localization.js``) from ``window.localization``, which the
page gets from :func:`localization_data` for setting ``localization``.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Iterable

from modules.core.extensions import ScriptFile

localizations: dict[str, list[str]] = {}
"""Name (file stem) -> its files, the install's first, then extensions' (later files override earlier keys)."""


def list_localizations(dirname: str | None, extension_files: Iterable[ScriptFile] = ()) -> dict[str, list[str]]:
    """List the ``.json`` files of ``dirname`` (``--localizations-dir``), then ``extension_files`` (the
    ``localizations/*.json`` files of the install and of the active extensions, in load order)."""
    localizations.clear()
    if dirname and os.path.isdir(dirname):
        for file in sorted(os.listdir(dirname)):
            stem, ext = os.path.splitext(file)
            if ext.lower() == ".json":
                localizations[stem] = [os.path.join(dirname, file)]
    for script_file in extension_files:
        stem = os.path.splitext(script_file.filename)[0]
        files = localizations.setdefault(stem, [])
        if os.path.abspath(script_file.path) not in map(os.path.abspath, files):
            files.append(script_file.path)
    return localizations


def localization_data(name: str | None) -> dict[str, Any]:
    """The merged translations of localization ``name`` (empty for "None" or an unknown name).

    A broken file is reported and skipped: the page then shows the texts it could translate.
    """
    data: dict[str, Any] = {}
    for filename in localizations.get(name or "", []):
        try:
            with open(filename, encoding="utf8") as f:
                loaded = json.load(f)
        except (OSError, ValueError) as e:
            print(f"Error loading localization from {filename}: {e}", file=sys.stderr)
            continue
        if isinstance(loaded, dict):
            data.update(loaded)
        else:
            print(f"Error loading localization from {filename}: not a JSON object", file=sys.stderr)
    return data


def localization_js(current_localization_name: str | None) -> str:
    """A1111's helper: the script line defining ``window.localization``."""
    return f"window.localization = {json.dumps(localization_data(current_localization_name))}"
