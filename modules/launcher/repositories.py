"""Optional source checkouts under ``repositories/``, pinned by commit.

A1111 clones these on every start; this project never imports them, so they are
cloned **only when asked**:

- env ``SD_WEBUI_CLONE_REPOSITORIES=1`` clones (and pins) every entry of
  :data:`REPOSITORIES`;
- setting one entry's URL variable (``ASSETS_REPO``, ``STABLE_DIFFUSION_REPO``,
  ``STABLE_DIFFUSION_XL_REPO``, ``K_DIFFUSION_REPO``, ``BLIP_REPO``) clones that entry.

The matching ``*_COMMIT_HASH`` variable overrides the pin (empty = no pin).
Existing checkouts are re-pinned only when asked in the same way.  A failure
(offline, say) is printed on one line and does not stop the start.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from modules.core.paths import INSTALL_DIR
from modules.core.commands import CommandError, Runner, first_line, run
from modules.core.git import git_clone

DIR_REPOS = "repositories"
CLONE_ALL_ENV = "SD_WEBUI_CLONE_REPOSITORIES"


@dataclass(frozen=True)
class RepositoryPin:
    """One entry of the manifest: where it goes, where it comes from, which commit."""

    dirname: str
    name: str
    url_env: str
    hash_env: str
    default_url: str
    default_commit: str


REPOSITORIES: tuple[RepositoryPin, ...] = (
    RepositoryPin("stable-diffusion-webui-assets", "assets", "ASSETS_REPO", "ASSETS_COMMIT_HASH",
                  "https://github.com/AUTOMATIC1111/stable-diffusion-webui-assets.git",
                  "6f7db241d2f8ba7457bac5ca9753331f0c266917"),
    RepositoryPin("stable-diffusion-stability-ai", "Stable Diffusion", "STABLE_DIFFUSION_REPO", "STABLE_DIFFUSION_COMMIT_HASH",
                  "https://github.com/Stability-AI/stablediffusion.git",
                  "cf1d67a6fd5ea1aa600c4df58e5b47da45f6bdbf"),
    RepositoryPin("generative-models", "Stable Diffusion XL", "STABLE_DIFFUSION_XL_REPO", "STABLE_DIFFUSION_XL_COMMIT_HASH",
                  "https://github.com/Stability-AI/generative-models.git",
                  "45c443b316737a4ab6e40413d7794a7f5657c19f"),
    RepositoryPin("k-diffusion", "K-diffusion", "K_DIFFUSION_REPO", "K_DIFFUSION_COMMIT_HASH",
                  "https://github.com/crowsonkb/k-diffusion.git",
                  "ab527a9a6d347f364e3d185ba6d714e22d80cb3c"),
    RepositoryPin("BLIP", "BLIP", "BLIP_REPO", "BLIP_COMMIT_HASH",
                  "https://github.com/salesforce/BLIP.git",
                  "48211a1594f1321b00f14c9f7a5b4813144b2fb9"),
)
"""A1111 v1.10.1's repositories and pins."""


@dataclass(frozen=True)
class RepositoryRequest:
    """A manifest entry with the URL and commit the environment chose."""

    pin: RepositoryPin
    url: str
    commit: str | None


def repo_dir(name: str, install_dir: str = INSTALL_DIR) -> str:
    """``<install>/repositories/<name>``."""
    return os.path.join(install_dir, DIR_REPOS, name)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def requested_repositories(environ: Mapping[str, str] | None = None) -> list[RepositoryRequest]:
    """The manifest entries the environment asks for (see the module docstring)."""
    environ = os.environ if environ is None else environ
    clone_all = _truthy(environ.get(CLONE_ALL_ENV))
    requests = []
    for pin in REPOSITORIES:
        url = environ.get(pin.url_env)
        if not (clone_all or url):
            continue
        commit = environ.get(pin.hash_env, pin.default_commit)
        requests.append(RepositoryRequest(pin, url or pin.default_url, commit or None))
    return requests


def clone_repositories(
    environ: Mapping[str, str] | None = None,
    *,
    install_dir: str = INSTALL_DIR,
    git: str = "git",
    runner: Runner = run,
) -> list[str]:
    """Clone or re-pin the requested repositories; returns one-line failure messages (printed, not raised)."""
    requests = requested_repositories(environ)
    if not requests:
        return []
    os.makedirs(os.path.join(install_dir, DIR_REPOS), exist_ok=True)
    failures = []
    for request in requests:
        try:
            git_clone(request.url, repo_dir(request.pin.dirname, install_dir), request.pin.name, request.commit,
                      git=git, runner=runner)
        except CommandError as e:
            detail = first_line(e.stderr) or first_line(str(e).split("\n", 1)[-1])
            message = f"Couldn't get {request.pin.name} from {request.url} (network needed for remote URLs): {detail}"
            print(message)
            failures.append(message)
    return failures
