"""The Extensions tab's actions: install from a URL, check for updates, apply the enabled list.

Every action that changes what code runs is refused while extension access is
off (listening publicly without ``--enable-insecure-extension-access``): a
reachable instance must not install code for a stranger (SECURITY.md).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass

from modules.launcher.git import git_env


class ExtensionAccessError(PermissionError):
    """Installing or changing extensions is not allowed in this configuration."""


class ExtensionInstallError(RuntimeError):
    """The install cannot go ahead (bad URL, folder taken, git failure); the message says why."""


def check_access() -> None:
    """Raise :class:`ExtensionAccessError` unless extension access is allowed."""
    from modules import shared
    from modules.core.cmd_args import extension_access_allowed

    if shared.cmd_opts is None or not extension_access_allowed(shared.cmd_opts):
        raise ExtensionAccessError("extension access disabled because of command line flags "
                                   "(listening publicly without --enable-insecure-extension-access)")


def _git(args: list[str], cwd: str | None = None, timeout: float = 300) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, encoding="utf8",
                            errors="replace", env=git_env(), timeout=timeout)
    if result.returncode != 0:
        raise ExtensionInstallError(f"git {args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def normalize_git_url(url: str | None) -> str:
    """The URL without a trailing ``.git`` or slash, for comparing installed remotes."""
    return "" if not url else re.sub(r"(\.git)?/?$", "", url.strip())


def dirname_from_url(url: str) -> str:
    """``https://host/user/sd-ext.git`` -> ``sd-ext``."""
    name = normalize_git_url(url).rstrip("/").split("/")[-1]
    if not name:
        raise ExtensionInstallError(f"cannot find a folder name in URL {url!r}")
    return name


def _remote(path: str) -> str:
    try:
        return _git(["config", "--get", "remote.origin.url"], cwd=path, timeout=10)
    except (ExtensionInstallError, OSError, subprocess.TimeoutExpired):
        return ""


def install_extension_from_url(url: str, branch: str | None = None, dirname: str | None = None) -> str:
    """Clone ``url`` (``branch`` or the default one) into ``extensions/<dirname>``, run its ``install.py``.

    The clone goes to ``tmp/`` first and is moved in only when complete, so a failed
    clone never leaves a half extension behind. Returns the installed folder.
    """
    from modules import shared
    from modules.launcher.extension_installs import run_extension_installer

    check_access()
    if not url or not url.strip():
        raise ExtensionInstallError("No URL specified")
    url = url.strip()
    dirname = (dirname or "").strip() or dirname_from_url(url)
    if "/" in dirname or "\\" in dirname or dirname in (".", ".."):
        raise ExtensionInstallError(f"bad folder name: {dirname!r}")
    target = os.path.join(shared.paths.extensions_dir, dirname)
    if os.path.exists(target):
        raise ExtensionInstallError(f"Extension directory already exists: {target}")
    wanted = normalize_git_url(url)
    for ext in shared.extensions or []:
        if normalize_git_url(_remote(ext.path)) == wanted:
            raise ExtensionInstallError(f"Extension with this URL is already installed: {ext.path}")

    tmpdir = os.path.join(shared.paths.data_dir, "tmp", f"{dirname}-{uuid.uuid4().hex[:8]}")
    os.makedirs(os.path.dirname(tmpdir), exist_ok=True)
    try:
        args = ["clone", "--filter=blob:none", "--recurse-submodules", url, tmpdir]
        if branch:
            args[1:1] = ["--branch", branch]
        _git(args)
        os.makedirs(shared.paths.extensions_dir, exist_ok=True)
        shutil.move(tmpdir, target)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    error = run_extension_installer(target, install_dir=shared.paths.install_dir)
    if error is not None:
        print(f"Extension installed, but its install.py failed: {error}")
    _refresh_extensions()
    return target


def _refresh_extensions() -> None:
    from modules import shared
    from modules.core.extensions import list_extensions

    shared.extensions = list_extensions(shared.paths, shared.opts.data, shared.cmd_opts)


@dataclass
class UpdateStatus:
    """One extension's result of "Check for updates"."""

    name: str
    status: str
    """``new commits``, ``latest``, ``unknown`` (not a git checkout) or ``error: ...``."""


def check_updates() -> list[UpdateStatus]:
    """``git fetch`` each extension and compare ``HEAD`` with its upstream (A1111's statuses)."""
    from modules import shared

    check_access()
    results = []
    for ext in shared.extensions or []:
        if not os.path.isdir(os.path.join(ext.path, ".git")):
            results.append(UpdateStatus(ext.name, "unknown"))
            continue
        try:
            _git(["fetch", "--quiet"], cwd=ext.path, timeout=60)
            head = _git(["rev-parse", "HEAD"], cwd=ext.path)
            upstream = _git(["rev-parse", "@{u}"], cwd=ext.path)
            results.append(UpdateStatus(ext.name, "latest" if head == upstream else "new commits"))
        except (ExtensionInstallError, OSError, subprocess.TimeoutExpired) as e:
            results.append(UpdateStatus(ext.name, f"error: {e}"))
    return results


def apply_and_restart(disabled_list: list[str], disable_all: str | None = None) -> None:
    """Save the disabled extensions (and "Disable all extensions") to the config; the caller restarts."""
    from modules import shared

    check_access()
    shared.opts.set("disabled_extensions", list(disabled_list))
    if disable_all is not None:
        shared.opts.set("disable_all_extensions", disable_all)
    shared.opts.save(shared.opts.config_filename or shared.paths.config_file)
