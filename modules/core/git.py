"""Git: the version of this checkout, and clone-and-pin of other repositories.

The pin mechanism is A1111's: an existing checkout whose ``HEAD`` differs from
the pinned commit gets its ``origin`` URL fixed when it changed, a ``git fetch``
and a ``git checkout <hash>``; a git command that fails on a damaged checkout is
retried once after ``git fetch --refetch`` and ``git gc --aggressive --prune=now``.
A fresh clone uses ``--config core.filemode=false``, then checks out the pin; a
failed clone removes the partial folder.  URLs may be local paths.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Mapping, Sequence

from modules.core.commands import CommandError, Runner, run


def git_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for git calls: never stop to ask for credentials (offline or private URLs fail fast)."""
    env = dict(os.environ if base is None else base)
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def git_output(args: Sequence[str], cwd: str, git: str = "git", timeout: float = 10) -> str | None:
    """The stripped stdout of a read-only, local git command, or ``None`` when it fails."""
    try:
        result = subprocess.run(
            [git, "-C", cwd, *args], capture_output=True, text=True, encoding="utf8", errors="replace",
            timeout=timeout, env=git_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def commit_hash(install_dir: str, git: str = "git") -> str:
    """``git rev-parse HEAD`` of the install root, or ``<none>``."""
    return git_output(["rev-parse", "HEAD"], install_dir, git) or "<none>"


def git_tag(install_dir: str, git: str = "git") -> str:
    """``git describe --tags``; else the first line of ``CHANGELOG.md``; else ``unknown``."""
    tag = git_output(["describe", "--tags"], install_dir, git)
    if tag:
        return tag
    try:
        with open(os.path.join(install_dir, "CHANGELOG.md"), encoding="utf8") as file:
            for line in file:
                if line.strip():
                    return line.strip().lstrip("#").strip() or "unknown"
    except OSError:
        pass
    return "unknown"


def _git(git: str, directory: str, *args: str) -> list[str]:
    return [git, "-C", directory, *args]


def fix_workspace(directory: str, name: str, *, git: str = "git", runner: Runner = run) -> None:
    """Repair a damaged checkout: refetch every object, then prune."""
    env = git_env()
    runner(_git(git, directory, "fetch", "--refetch", "--no-auto-gc"), desc=f"Fetching all contents for {name}",
           errdesc=f"Couldn't fetch {name}", custom_env=env, live=True)
    runner(_git(git, directory, "gc", "--aggressive", "--prune=now"), desc=f"Pruning {name}",
           errdesc=f"Couldn't prune {name}", custom_env=env, live=True)


def run_git(
    directory: str,
    name: str,
    args: Sequence[str],
    desc: str | None = None,
    errdesc: str | None = None,
    *,
    git: str = "git",
    runner: Runner = run,
    live: bool = False,
    autofix: bool = True,
) -> str:
    """Run ``git -C <directory> <args>``; on failure repair the checkout once and retry (unless ``autofix`` is off)."""
    command = _git(git, directory, *args)
    try:
        return runner(command, desc=desc, errdesc=errdesc, custom_env=git_env(), live=live)
    except CommandError:
        if not autofix:
            raise
    print(f"{errdesc or 'git ' + ' '.join(args) + ' failed'}, attempting autofix...")
    fix_workspace(directory, name, git=git, runner=runner)
    return runner(command, desc=desc, errdesc=errdesc, custom_env=git_env(), live=live)


def git_clone(
    url: str,
    directory: str,
    name: str,
    commithash: str | None = None,
    *,
    git: str = "git",
    runner: Runner = run,
) -> None:
    """Make ``directory`` a checkout of ``url`` at ``commithash`` (see the module docstring)."""
    if os.path.exists(directory):
        if not commithash:
            return
        current = run_git(directory, name, ["rev-parse", "HEAD"], None, f"Couldn't determine {name}'s hash: {commithash}",
                          git=git, runner=runner).strip()
        if current == commithash:
            return
        origin = run_git(directory, name, ["config", "--get", "remote.origin.url"], None,
                         f"Couldn't determine {name}'s origin URL", git=git, runner=runner, autofix=False).strip()
        if origin != url:
            run_git(directory, name, ["remote", "set-url", "origin", url], None, f"Failed to set {name}'s origin URL",
                    git=git, runner=runner)
        run_git(directory, name, ["fetch"], f"Fetching updates for {name}...", f"Couldn't fetch {name}",
                git=git, runner=runner, autofix=False)
        run_git(directory, name, ["checkout", commithash], f"Checking out commit for {name} with hash: {commithash}...",
                f"Couldn't checkout commit {commithash} for {name}", git=git, runner=runner, live=True)
        return

    try:
        runner([git, "clone", "--config", "core.filemode=false", url, directory], desc=f"Cloning {name} into {directory}...",
               errdesc=f"Couldn't clone {name}", custom_env=git_env(), live=False)
    except CommandError:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    if commithash:
        runner(_git(git, directory, "checkout", commithash), errdesc=f"Couldn't checkout {name}'s hash: {commithash}",
               custom_env=git_env(), live=False)


def git_pull_recursive(directory: str, *, git: str = "git", runner: Runner = run) -> list[str]:
    """``git pull --autostash`` in every git checkout under ``directory``; returns the failures (not raised)."""
    failures = []
    for subdir, dirs, _files in os.walk(directory):
        if ".git" not in dirs and not os.path.isfile(os.path.join(subdir, ".git")):
            continue
        dirs[:] = []  # a checkout's own sub-folders are not separate repositories
        try:
            output = runner(_git(git, subdir, "pull", "--autostash"), custom_env=git_env(), live=False)
            print(f"Pulled changes for repository in '{subdir}':\n{output.strip()}\n")
        except CommandError as e:
            message = f"Couldn't update the repository in '{subdir}': {e.stderr.strip() or e}"
            print(message)
            failures.append(message)
    return failures
