"""Git details of an extension folder (remote, branch, commit, date): ``/sdapi/v1/extensions`` and the Extensions tab.

Read from the ``.git`` files where possible; only the commit date needs ``git`` itself
(run with a short timeout).  A folder that is not a clone gets empty strings.
"""
from __future__ import annotations

import configparser
import os
import subprocess
from dataclasses import dataclass


@dataclass
class GitDetails:
    remote: str = ""
    branch: str = ""
    commit_hash: str = ""
    commit_date: str = ""


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf8") as f:
            return f.read().strip()
    except OSError:
        return ""


def _git_dir(path: str) -> str | None:
    git = os.path.join(path, ".git")
    if os.path.isdir(git):
        return git
    text = _read(git)  # a worktree or submodule: "gitdir: <path>"
    if text.startswith("gitdir:"):
        target = text.split(":", 1)[1].strip()
        return target if os.path.isabs(target) else os.path.normpath(os.path.join(path, target))
    return None


def _ref_hash(git_dir: str, ref: str) -> str:
    loose = _read(os.path.join(git_dir, *ref.split("/")))
    if loose:
        return loose
    for line in _read(os.path.join(git_dir, "packed-refs")).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == ref:
            return parts[0]
    return ""


def _remote_url(git_dir: str) -> str:
    config = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        config.read(os.path.join(git_dir, "config"), encoding="utf8")
    except (configparser.Error, UnicodeDecodeError):
        return ""
    for section in config.sections():
        if section.startswith("remote "):
            return config.get(section, "url", fallback="")
    return ""


def _commit_date(path: str) -> str:
    try:
        out = subprocess.run(["git", "-C", path, "log", "-1", "--format=%ct"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def git_details(path: str) -> GitDetails:
    """What git knows about the extension at ``path``."""
    git_dir = _git_dir(path)
    if git_dir is None:
        return GitDetails()
    head = _read(os.path.join(git_dir, "HEAD"))
    details = GitDetails(remote=_remote_url(git_dir))
    if head.startswith("ref:"):
        ref = head.split(":", 1)[1].strip()
        details.branch = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ref
        details.commit_hash = _ref_hash(git_dir, ref)
    else:
        details.commit_hash = head
    if details.commit_hash:
        details.commit_date = _commit_date(path)
    return details
