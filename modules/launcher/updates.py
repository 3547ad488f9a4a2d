"""``--update-check`` and ``--update-all-extensions``: both need the network.

Offline, each prints one clear line and the start goes on.  The update check
compares this checkout's commit with the head of its ``origin`` remote's default
branch (``git ls-remote``), since this project is not A1111's GitHub repository.
"""
from __future__ import annotations

import os

from modules.core.commands import CommandError, Runner, first_line, run
from modules.core.git import git_env, git_output, git_pull_recursive

LS_REMOTE_TIMEOUT_S = 30


def version_check(commit: str, *, install_dir: str, git: str = "git", runner: Runner = run) -> str:
    """Print (and return) whether ``origin`` has a newer commit than ``commit``."""
    if commit in ("", "<none>"):
        message = "Update check skipped: this is not a git checkout."
    elif not git_output(["config", "--get", "remote.origin.url"], install_dir, git):
        message = "Update check skipped: this checkout has no 'origin' remote."
    else:
        try:
            output = runner([git, "-C", install_dir, "ls-remote", "origin", "HEAD"], custom_env=git_env(), live=False,
                            timeout=LS_REMOTE_TIMEOUT_S)
        except CommandError as e:
            message = f"Update check failed (network needed): {first_line(e.stderr) or first_line(str(e))}"
        else:
            remote = output.split()[0] if output.split() else ""
            if not remote:
                message = "Update check failed: the remote reported no HEAD."
            elif remote == commit:
                message = "You are up to date with the most recent release."
            else:
                message = (f"You are not up to date with the most recent release (local {commit[:8]}, remote {remote[:8]}). "
                           "Consider running `git pull` to update.")
    print(message)
    return message


def update_all_extensions(extensions_dir: str, *, git: str = "git", runner: Runner = run) -> list[str]:
    """``git pull --autostash`` in every extension checkout; failures are printed and returned, not raised."""
    if not os.path.isdir(extensions_dir):
        return []
    return git_pull_recursive(extensions_dir, git=git, runner=runner)
