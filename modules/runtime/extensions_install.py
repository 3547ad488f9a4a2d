"""The Extensions tab's actions: install from a URL, check for updates, update, apply the enabled list, restart.

Every action that changes what code runs is refused while extension access is
off (listening publicly without ``--enable-insecure-extension-access``): a
reachable instance must not install code for a stranger (SECURITY.md).

Update statuses are A1111's: ``new commits`` (a dry-run fetch would bring
commits to ``origin/<branch>``), ``behind HEAD`` (already fetched, ``HEAD`` is
not ``origin/<branch>``), ``latest``, ``unknown`` (not a git clone) and
``unknown (remote error)``.  Updating is A1111's ``fetch_and_reset_hard``: fetch,
then ``git reset --hard origin/<branch>``.

Restarting after "Apply" is A1111's: when ``webui.sh`` watches the process
(``SD_WEBUI_RESTART`` names its marker file, A1111's ``modules.restart``) the marker
is written and the process exits, and ``webui.sh`` starts it again.  Otherwise
the UI is reloaded in this process (``services.state.request_restart()``, the
Settings tab's Reload UI), which lists the extensions and imports their scripts
again; only where neither exists does the process just exit ("Apply and quit").
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from modules.core.cmd_args import extension_access_allowed
from modules.core.extension_installs import run_extension_installer
from modules.core.services import current_services
from modules.runtime import config_states, extension_git, restart
from modules.runtime.extension_git import ExtensionInstallError, fetch_and_reset_hard  # noqa: F401  (A1111 names)
from modules.runtime.extension_git import git as _git
from modules.runtime.extension_git import run_git as _run_git
from modules.runtime.extension_list import refresh_extensions


class ExtensionAccessError(PermissionError):
    """Installing or changing extensions is not allowed in this configuration."""


def check_access() -> None:
    """Raise :class:`ExtensionAccessError` unless extension access is allowed."""
    if not access_allowed():
        raise ExtensionAccessError("extension access disabled because of command line flags "
                                   "(listening publicly without --enable-insecure-extension-access)")


def access_allowed() -> bool:
    """Whether extensions may be installed, updated, enabled or disabled from the page."""
    cmd_opts = current_services().cmd_opts
    return cmd_opts is not None and extension_access_allowed(cmd_opts)


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


def installed_remotes() -> dict[str, str]:
    """Normalised remote URL -> extension name, for every installed extension that is a git clone."""
    remotes = {}
    for ext in current_services().extensions or []:
        remote = normalize_git_url(_remote(ext.path)) if os.path.exists(os.path.join(ext.path, ".git")) else ""
        if remote:
            remotes[remote] = ext.name
    return remotes


def install_extension_from_url(url: str, branch: str | None = None, dirname: str | None = None) -> str:
    """Clone ``url`` (``branch`` or the default one) into ``extensions/<dirname>``, run its ``install.py``.

    The clone goes to ``tmp/`` first and is moved in only when complete, so a failed
    clone never leaves a half extension behind. Returns the installed folder.
    """
    paths = current_services().paths
    check_access()
    if not url or not url.strip():
        raise ExtensionInstallError("No URL specified")
    url = url.strip()
    if url.startswith("-"):
        raise ExtensionInstallError(f"bad URL: {url!r}")  # would be read by git as an option
    dirname = (dirname or "").strip() or dirname_from_url(url)
    if "/" in dirname or "\\" in dirname or dirname in (".", "..") or dirname.startswith("."):
        raise ExtensionInstallError(f"bad folder name: {dirname!r}")
    target = os.path.join(paths.extensions_dir, dirname)
    if os.path.exists(target):
        raise ExtensionInstallError(f"Extension directory already exists: {target}")
    existing = installed_remotes().get(normalize_git_url(url))
    if existing is not None:
        raise ExtensionInstallError(f"Extension with this URL is already installed: {existing}")

    tmpdir = os.path.join(paths.data_dir, "tmp", f"{dirname}-{uuid.uuid4().hex[:8]}")
    os.makedirs(os.path.dirname(tmpdir), exist_ok=True)
    try:
        args = ["clone", "--filter=blob:none", "--recurse-submodules", url, tmpdir]
        if branch and branch.strip():
            if branch.strip().startswith("-"):
                raise ExtensionInstallError(f"bad branch name: {branch!r}")
            args[1:1] = ["--branch", branch.strip()]
        _git(args)
        os.makedirs(paths.extensions_dir, exist_ok=True)
        shutil.move(tmpdir, target)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    error = run_extension_installer(target, install_dir=paths.install_dir)
    if error is not None:
        print(f"Extension installed, but its install.py failed: {error}")
    refresh_extensions()
    return target


# --- updates ------------------------------------------------------------------------------------------------------

STATUS_NEW_COMMITS = "new commits"
STATUS_BEHIND_HEAD = "behind HEAD"
STATUS_LATEST = "latest"
STATUS_UNKNOWN = "unknown"
STATUS_REMOTE_ERROR = "unknown (remote error)"


@dataclass
class UpdateStatus:
    """One extension's result of "Check for updates"."""

    name: str
    status: str
    """``new commits``, ``behind HEAD``, ``latest``, ``unknown`` or ``unknown (remote error)``."""

    @property
    def can_update(self) -> bool:
        """Whether "Apply" has something to update (A1111's ``Extension.can_update``)."""
        return self.status in (STATUS_NEW_COMMITS, STATUS_BEHIND_HEAD)


last_statuses: dict[str, UpdateStatus] = {}
"""The results of the last "Check for updates", by extension name (what the Installed table shows)."""


def is_git_clone(path: str) -> bool:
    """Whether the extension folder is a git checkout of its own (built-ins are not)."""
    return os.path.exists(os.path.join(path, ".git"))


def check_extension_updates(name: str, path: str) -> UpdateStatus:
    """A1111's ``Extension.check_updates`` for one folder: a dry-run fetch, then ``HEAD`` against the remote branch."""
    if not is_git_clone(path):
        return UpdateStatus(name, STATUS_UNKNOWN)
    branch = extension_git.branch(path)
    remote_ref = f"origin/{branch}" if branch else "origin/HEAD"
    try:
        fetch = _run_git(["fetch", "--dry-run"], cwd=path, timeout=60)
        if fetch.returncode != 0:
            return UpdateStatus(name, STATUS_REMOTE_ERROR)
        # a dry run lists what it would fetch on stderr: "   1a2b3c4..5d6e7f8  main  -> origin/main"
        targets = [line.split("->")[-1].strip() for line in fetch.stderr.splitlines() if "->" in line]
        if (remote_ref in targets) if branch else targets:
            return UpdateStatus(name, STATUS_NEW_COMMITS)
        head = _git(["rev-parse", "HEAD"], cwd=path, timeout=10)
        origin = _git(["rev-parse", remote_ref], cwd=path, timeout=10)
    except (ExtensionInstallError, OSError, subprocess.TimeoutExpired):
        return UpdateStatus(name, STATUS_REMOTE_ERROR)
    return UpdateStatus(name, STATUS_LATEST if head == origin else STATUS_BEHIND_HEAD)


def check_updates(disabled: Iterable[str] = (), on_each: Callable[[str], Any] | None = None) -> list[UpdateStatus]:
    """Check every git-clone extension not named in ``disabled``; the results also go to :data:`last_statuses`."""
    check_access()
    skip = set(disabled)
    results = []
    for ext in current_services().extensions or []:
        if ext.name in skip or not is_git_clone(ext.path):
            continue
        if on_each is not None:
            on_each(ext.name)
        status = check_extension_updates(ext.name, ext.path)
        last_statuses[ext.name] = status
        results.append(status)
    return results


@dataclass
class ApplyResult:
    """What :func:`apply_changes` did."""

    updated: dict[str, str]
    """Extension name -> its new commit hash."""
    failed: dict[str, str]
    """Extension name -> why its update failed."""
    backup: str | None
    """The config-state file saved before updating (only when something was to be updated)."""


def apply_changes(disabled_list: Iterable[str], update_list: Iterable[str] = (),
                  disable_all: str | None = None) -> ApplyResult:
    """A1111's "Apply": back up the config state, update the marked extensions, save the disabled list.

    The caller restarts (:func:`restart_or_quit`).
    """
    services = current_services()
    check_access()
    disabled = [str(x) for x in disabled_list]
    update = {str(x) for x in update_list}
    if disable_all is not None and disable_all not in ("none", "extra", "all"):
        raise ExtensionInstallError(f"bad value for Disable all extensions: {disable_all!r}")
    backup = config_states.save_config_state("Backup (pre-update)") if update else None
    updated, failed = {}, {}
    for ext in services.extensions or []:
        if ext.name not in update:
            continue
        try:
            updated[ext.name] = fetch_and_reset_hard(ext.path)
            last_statuses.pop(ext.name, None)
        except (ExtensionInstallError, OSError, subprocess.TimeoutExpired) as e:
            print(f"Error getting updates for {ext.name}: {e}")
            failed[ext.name] = str(e)
    services.opts.set("disabled_extensions", disabled)
    if disable_all is not None:
        services.opts.set("disable_all_extensions", disable_all)
    services.opts.save(services.opts.config_filename or services.paths.config_file)
    return ApplyResult(updated, failed, backup)


# --- restarting ---------------------------------------------------------------------------------------------------

exit_process: Callable[[int], Any] = os._exit
"""How the process ends (tests replace it)."""

EXIT_DELAY = 0.5
"""Seconds left for the answer to reach the page before the process ends."""


def is_restartable() -> bool:
    """Whether ``webui.sh`` starts the web UI again after the process exits (A1111's ``restart.is_restartable``)."""
    return restart.is_restartable()


def restart_mode() -> str:
    """How "Apply" restarts: ``restart`` (exit, ``webui.sh`` starts the process again: install.py and preload.py
    run anew), ``reload`` (Reload UI in this process: scripts and page built again) or ``quit`` (neither)."""
    if is_restartable():
        return "restart"
    if callable(getattr(current_services().state, "request_restart", None)):
        return "reload"
    return "quit"


def _exit_soon(code: int = 0) -> None:
    timer = threading.Timer(EXIT_DELAY, exit_process, args=(code,))
    timer.daemon = True
    timer.start()


def restart_or_quit() -> str:
    """Restart as :func:`restart_mode` says; returns the mode.  The process ends a moment later, so the answer
    still reaches the page."""
    mode = restart_mode()
    if mode == "restart":
        restart.mark_restart()
        _exit_soon(0)
    elif mode == "reload":
        current_services().state.request_restart()
    else:
        _exit_soon(0)
    return mode
