"""Config states: saving and restoring the web UI's and the extensions' git versions (A1111's ``config_states``).

A config state is a JSON file in ``<data dir>/config_states/``, named
``<YYYY_MM_DD-HH_MM_SS>_<name>.json``, in A1111's layout::

    {"created_at": 1700000000.0, "name": "Backup (pre-update)",
     "webui": {"remote": ..., "commit_hash": ..., "commit_date": 1700000000, "branch": "master"},
     "extensions": {"<folder name>": {"name": ..., "path": ..., "enabled": true, "is_builtin": false,
                                       "remote": ..., "commit_hash": ..., "commit_date": ..., "branch": ...,
                                       "have_info_from_repo": true}}}

Restoring extensions checks each extension folder out at its saved commit and
writes the saved enabled states to ``disabled_extensions``; restoring the web UI
hard-resets the install root to its saved commit, and only when the root is a
git checkout without local changes.  No gradio here: the Extensions tab calls it.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from modules.core.errors import report
from modules.core.git import git_env
from modules.core.paths import INSTALL_DIR
from modules.core.services import current_services
from modules.runtime.extension_git import ExtensionInstallError, fetch_and_reset_hard

all_config_states: OrderedDict[str, dict[str, Any]] = OrderedDict()
"""``"<name>: <asctime of created_at>"`` -> the state (with ``filepath``), newest first; set by
:func:`list_config_states`."""


def config_states_dir() -> str:
    """``<data dir>/config_states``."""
    return os.path.join(current_services().paths.data_dir, "config_states")


def webui_root() -> str:
    """The install root whose git version is saved and restored."""
    return INSTALL_DIR


def _git(path: str, *args: str, timeout: float = 30) -> str | None:
    try:
        result = subprocess.run(["git", "-C", path, *args], capture_output=True, text=True, encoding="utf8",
                                errors="replace", timeout=timeout, env=git_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _is_own_checkout(path: str) -> bool:
    # a folder inside another repository (a built-in extension) is not a checkout of its own
    return os.path.exists(os.path.join(path, ".git"))


def repo_info(path: str) -> dict[str, Any]:
    """``remote``, ``commit_hash``, ``commit_date`` (unix time) and ``branch`` of the checkout at ``path``
    (all ``None`` when it is not one)."""
    info: dict[str, Any] = {"remote": None, "commit_hash": None, "commit_date": None, "branch": None}
    if not _is_own_checkout(path):
        return info
    info["remote"] = _git(path, "config", "--get", "remote.origin.url") or None
    info["commit_hash"] = _git(path, "rev-parse", "HEAD") or None
    date = _git(path, "log", "-1", "--format=%ct")
    info["commit_date"] = int(date) if date and date.isdigit() else None
    info["branch"] = _git(path, "symbolic-ref", "--short", "-q", "HEAD") or None
    return info


def get_webui_config() -> dict[str, Any]:
    """The install root's git version."""
    return repo_info(webui_root())


def get_extension_config() -> dict[str, dict[str, Any]]:
    """Each extension's folder, enabled state and git version, by folder name."""
    result = {}
    for ext in current_services().extensions or []:
        info = repo_info(ext.path)
        result[ext.name] = {"name": ext.name, "path": ext.path, "enabled": ext.enabled, "is_builtin": ext.is_builtin,
                            **info, "have_info_from_repo": True}
    return result


def get_config() -> dict[str, Any]:
    """The current state (what a saved file holds, without its name)."""
    return {"created_at": datetime.datetime.now().timestamp(), "webui": get_webui_config(),
            "extensions": get_extension_config()}


def _safe_name(name: str) -> str:
    # the name becomes part of a file name: no folders, nothing hidden
    cleaned = re.sub(r"[\\/:*?\"<>|\x00-\x1f]", "_", name.strip()).strip(". ")
    return cleaned or "Config"


def save_config_state(name: str | None = None) -> str:
    """Save the current state as ``<timestamp>_<name>.json``; returns the file's path."""
    state = get_config()
    state["name"] = (name or "").strip() or "Config"
    timestamp = datetime.datetime.now().strftime("%Y_%m_%d-%H_%M_%S")
    folder = config_states_dir()
    os.makedirs(folder, exist_ok=True)
    filename = os.path.join(folder, f"{timestamp}_{_safe_name(state['name'])}.json")
    print(f"Saving backup of webui/extension state to {filename}.")
    with open(filename, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=4, ensure_ascii=False)
    list_config_states()
    return filename


def state_title(state: dict[str, Any]) -> str:
    """``"<name>: <asctime of created_at, UTC>"``, the state's entry in the "Saved Configs" list."""
    return f"{state.get('name', 'Config')}: {time.asctime(time.gmtime(state['created_at']))}"


def list_config_states() -> OrderedDict[str, dict[str, Any]]:
    """Read every saved state (newest first) into :data:`all_config_states`; unreadable files are skipped."""
    all_config_states.clear()
    folder = config_states_dir()
    states = []
    for filename in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not filename.endswith(".json"):
            continue
        path = os.path.join(folder, filename)
        try:
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
            float(state["created_at"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            report(f"Config state {path} is unreadable: {e}")
            continue
        state["filepath"] = path
        states.append(state)
    for state in sorted(states, key=lambda s: float(s["created_at"]), reverse=True):
        all_config_states[state_title(state)] = state
    return all_config_states


@dataclass
class RestoreResult:
    """One extension's restore: its commit before, and the saved commit now checked out (or why not)."""

    name: str
    previous: str
    success: bool
    result: str


def restore_extension_config(config: dict[str, Any]) -> list[RestoreResult]:
    """Check every installed (not built-in) extension out at its saved commit; save the saved enabled states.

    An installed extension the state does not know is disabled (A1111).
    """
    services = current_services()
    saved = config.get("extensions")
    if not isinstance(saved, dict):
        raise ValueError("No extension data saved to config")
    print("* Restoring extension state...")
    results = []
    disabled = []
    for ext in services.extensions or []:
        entry = saved.get(ext.name)
        if ext.is_builtin:
            if isinstance(entry, dict) and entry.get("enabled") is False:
                disabled.append(ext.name)
            continue
        current = (repo_info(ext.path)["commit_hash"] or "")[:8]
        if not isinstance(entry, dict):
            disabled.append(ext.name)
            results.append(RestoreResult(ext.name, current, False,
                                         "Saved extension state not found in config, marking as disabled"))
            continue
        commit = entry.get("commit_hash")
        if commit:
            try:
                fetch_and_reset_hard(ext.path, commit)
                results.append(RestoreResult(ext.name, current, True, commit[:8]))
            except (ExtensionInstallError, OSError, subprocess.TimeoutExpired) as e:
                results.append(RestoreResult(ext.name, current, False, str(e)))
        else:
            results.append(RestoreResult(ext.name, current, False, "No commit hash found in config"))
        if not entry.get("enabled", False):
            disabled.append(ext.name)
    services.opts.set("disabled_extensions", disabled)
    services.opts.save(services.opts.config_filename or services.paths.config_file)
    print("* Finished restoring extensions. Results:")
    for r in results:
        print(f"  + {r.name}: {r.previous} -> {r.result}" if r.success else f"  ! {r.name}: FAILURE ({r.result})")
    return results


def restore_webui_config(config: dict[str, Any]) -> str:
    """Hard-reset the install root to the saved commit; returns what happened (never raises for a refusal)."""
    commit = (config.get("webui") or {}).get("commit_hash")
    if not commit:
        return "No webui commit saved to this config."
    if not re.fullmatch(r"[0-9a-fA-F]{4,64}", str(commit)):
        return f"Not a commit hash: {commit!r}."
    root = webui_root()
    if not _is_own_checkout(root):
        return f"The web UI folder {root} is not a git checkout: its version cannot be restored."
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    if status is None:
        return f"Cannot read the git state of {root}."
    if status:
        # a hard reset would throw the local changes away
        return f"The web UI folder {root} has local changes: not restoring it to {commit[:8]}."
    _git(root, "fetch", "--all", timeout=120)  # offline, a commit the checkout already has still restores
    if _git(root, "reset", "--hard", commit, timeout=60) is None:
        return f"Error restoring webui to commit {commit[:8]}."
    return f"Restored webui to commit {commit}."
