"""Clone, pin and re-pin against local git repositories (real git, no network)."""
from __future__ import annotations

import os
import subprocess

import pytest

from modules.core.commands import CommandError, run
from modules.core.git import git_clone
from modules.launcher.repositories import REPOSITORIES, clone_repositories, repo_dir, requested_repositories

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_NOSYSTEM": "1"}


def git(*args, cwd=None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True).stdout.strip()


def commit(work, name: str) -> str:
    (work / name).write_text(name)
    git("add", name, cwd=work)
    git("commit", "-q", "-m", name, cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


@pytest.fixture
def upstream(tmp_path):
    """A work tree with two commits, published to a bare repository."""
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    first = commit(work, "one")
    second = commit(work, "two")
    bare = tmp_path / "upstream.git"
    git("clone", "-q", "--bare", str(work), str(bare))
    git("remote", "add", "origin", str(bare), cwd=work)
    return {"work": work, "bare": str(bare), "first": first, "second": second}


class Recorder:
    """The real runner, recording the commands and optionally failing some once."""

    def __init__(self, fail_once=lambda command: False):
        self.calls = []
        self._fail_once = fail_once
        self._failed = set()

    def __call__(self, command, *args, **kwargs):
        self.calls.append(list(command))
        key = tuple(command)
        if self._fail_once(command) and key not in self._failed:
            self._failed.add(key)
            raise CommandError("injected failure", " ".join(command), 1)
        return run(command, *args, **kwargs)

    def used(self, *words) -> bool:
        return any(all(w in c for w in words) for c in self.calls)


def head(path) -> str:
    return git("-C", str(path), "rev-parse", "HEAD")


def test_fresh_clone_is_pinned(upstream, tmp_path):
    dest = tmp_path / "repositories" / "thing"
    git_clone(upstream["bare"], str(dest), "Thing", upstream["first"])
    assert head(dest) == upstream["first"]
    assert git("-C", str(dest), "config", "core.filemode") == "false"


def test_pinned_checkout_left_alone(upstream, tmp_path):
    dest = tmp_path / "thing"
    git_clone(upstream["bare"], str(dest), "Thing", upstream["first"])
    recorder = Recorder()
    git_clone(upstream["bare"], str(dest), "Thing", upstream["first"], runner=recorder)
    assert not recorder.used("fetch") and not recorder.used("checkout")
    git_clone(upstream["bare"], str(dest), "Thing", None, runner=recorder)  # no pin: nothing at all
    assert len(recorder.calls) == 1


def test_repin_fetches_new_commit(upstream, tmp_path):
    dest = tmp_path / "thing"
    git_clone(upstream["bare"], str(dest), "Thing", upstream["first"])
    third = commit(upstream["work"], "three")
    git("push", "-q", "origin", "main", cwd=upstream["work"])
    recorder = Recorder()
    git_clone(upstream["bare"], str(dest), "Thing", third, runner=recorder)
    assert head(dest) == third
    assert recorder.used("fetch") and recorder.used("checkout", third)


def test_repin_fixes_changed_remote_url(upstream, tmp_path):
    dest = tmp_path / "thing"
    git_clone(upstream["bare"], str(dest), "Thing", upstream["second"])
    mirror = str(tmp_path / "mirror.git")
    git("clone", "-q", "--bare", upstream["bare"], mirror)
    git_clone(mirror, str(dest), "Thing", upstream["first"])
    assert head(dest) == upstream["first"]
    assert git("-C", str(dest), "config", "--get", "remote.origin.url") == mirror


def test_failed_git_command_is_repaired_and_retried(upstream, tmp_path):
    dest = tmp_path / "thing"
    git_clone(upstream["bare"], str(dest), "Thing", upstream["second"])
    recorder = Recorder(fail_once=lambda c: "checkout" in c)
    git_clone(upstream["bare"], str(dest), "Thing", upstream["first"], runner=recorder)
    assert recorder.used("fetch", "--refetch") and recorder.used("gc", "--aggressive", "--prune=now")
    assert head(dest) == upstream["first"]


def test_failed_clone_removes_partial_dir(upstream, tmp_path):
    dest = tmp_path / "thing"

    def half_clone(command, *args, **kwargs):
        os.makedirs(dest / ".git")  # what an interrupted clone leaves behind
        raise CommandError("Couldn't clone Thing", " ".join(command), 128)

    with pytest.raises(CommandError):
        git_clone(upstream["bare"], str(dest), "Thing", upstream["first"], runner=half_clone)
    assert not dest.exists()

    with pytest.raises(CommandError):
        git_clone(str(tmp_path / "no-such-repo"), str(dest), "Thing", upstream["first"])
    assert not dest.exists()


def test_clone_only_when_asked(upstream, tmp_path, capsys):
    install = tmp_path / "install"
    install.mkdir()
    assert requested_repositories({}) == []
    assert clone_repositories({}, install_dir=str(install)) == []
    assert not (install / "repositories").exists()

    env = {"K_DIFFUSION_REPO": upstream["bare"], "K_DIFFUSION_COMMIT_HASH": upstream["first"]}
    assert clone_repositories(env, install_dir=str(install)) == []
    assert head(repo_dir("k-diffusion", str(install))) == upstream["first"]
    assert os.listdir(install / "repositories") == ["k-diffusion"]

    failures = clone_repositories({"BLIP_REPO": str(tmp_path / "missing.git")}, install_dir=str(install))
    assert len(failures) == 1 and failures[0].startswith("Couldn't get BLIP from")
    assert "\n" not in failures[0]
    assert not os.path.exists(repo_dir("BLIP", str(install)))


def test_clone_all_switch_uses_the_manifest():
    requests = requested_repositories({"SD_WEBUI_CLONE_REPOSITORIES": "1", "BLIP_COMMIT_HASH": ""})
    assert [r.pin.dirname for r in requests] == [
        "stable-diffusion-webui-assets", "stable-diffusion-stability-ai", "generative-models", "k-diffusion", "BLIP"]
    assert requests[0].url == REPOSITORIES[0].default_url and requests[0].commit == REPOSITORIES[0].default_commit
    assert requests[-1].commit is None  # an empty *_COMMIT_HASH means no pin


def test_update_check_and_update_all_extensions(upstream, tmp_path, capsys):
    from modules.launcher.updates import update_all_extensions, version_check

    extensions = tmp_path / "extensions"
    ext = extensions / "some-ext"
    git("clone", "-q", upstream["bare"], str(ext))
    (extensions / "not-a-repo").mkdir()

    assert version_check(upstream["second"], install_dir=str(ext)).startswith("You are up to date")
    third = commit(upstream["work"], "three")
    git("push", "-q", "origin", "main", cwd=upstream["work"])
    assert "not up to date" in version_check(upstream["second"], install_dir=str(ext))

    assert update_all_extensions(str(extensions)) == []
    assert head(ext) == third

    git("-C", str(ext), "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    failures = update_all_extensions(str(extensions))
    assert len(failures) == 1 and "some-ext" in failures[0]
    assert version_check(third, install_dir=str(ext)).startswith("Update check failed")
