"""prepare_environment: each step with an injected runner and find_spec (no pip, no network)."""
from __future__ import annotations

import sys

import pytest

from modules.launcher import prepare
from modules.core.commands import LaunchError
from modules.launcher.prepare import GPU_ERROR, prepare_environment, python_version_warning
from tests.launcher.conftest import FakeRunner, has_torch, no_torch

TORCH = [sys.executable, "-m", "pip", "install", "torch==2.14.1", "torchvision==0.29.1"]


def is_gpu_test(command) -> bool:
    return isinstance(command, list) and "-c" in command


def test_torch_not_installed_again_when_present(make_ctx):
    runner = FakeRunner()
    prepare_environment(make_ctx(["--skip-torch-cuda-test"], runner=runner, find_spec=has_torch))
    assert TORCH not in runner.calls


def test_torch_installed_when_missing(make_ctx):
    runner = FakeRunner()
    prepare_environment(make_ctx(["--skip-torch-cuda-test"], runner=runner, find_spec=no_torch))
    assert TORCH in runner.calls


def test_torch_reinstalled_on_request(make_ctx):
    runner = FakeRunner()
    prepare_environment(make_ctx(["--skip-torch-cuda-test", "--reinstall-torch"], runner=runner, find_spec=has_torch))
    assert TORCH in runner.calls


def test_torch_command_from_environment(make_ctx):
    runner = FakeRunner()
    ctx = make_ctx(["--skip-torch-cuda-test"], environ={"TORCH_COMMAND": "pip install torch==9 --extra-index-url http://x"},
                   runner=runner, find_spec=no_torch)
    prepare_environment(ctx)
    assert [sys.executable, "-m", "pip", "install", "torch==9", "--extra-index-url", "http://x"] in runner.calls


def test_skip_install_runs_no_pip_at_all(make_ctx, monkeypatch):
    (make_ctx.install / "requirements_versions.txt").write_text("surely-not-installed-package==1\n")
    monkeypatch.setattr(prepare, "is_installed", lambda name: False)
    runner = FakeRunner()
    ctx = make_ctx(["--skip-torch-cuda-test", "--skip-install", "--xformers", "--ngrok", "tok"], runner=runner,
                   find_spec=no_torch)
    prepare_environment(ctx)
    assert [c for c in runner.calls if "pip" in c] == []


def test_gpu_test_failure_warns_with_a1111_message_and_goes_on_on_the_cpu(make_ctx, capsys):
    runner = FakeRunner(fail=is_gpu_test)
    prepare_environment(make_ctx([], runner=runner))
    out = capsys.readouterr().out
    assert GPU_ERROR in out and "Continuing on the CPU" in out
    assert "add --skip-torch-cuda-test to COMMANDLINE_ARGS" in GPU_ERROR


def test_gpu_test_skipped_by_flag(make_ctx):
    runner = FakeRunner(fail=is_gpu_test)
    prepare_environment(make_ctx(["--skip-torch-cuda-test"], runner=runner))
    assert not [c for c in runner.calls if is_gpu_test(c)]


def test_gpu_test_passes(make_ctx):
    runner = FakeRunner()
    prepare_environment(make_ctx([], runner=runner))
    assert [c for c in runner.calls if is_gpu_test(c)]


def test_xformers_and_pyngrok_installed_when_asked(make_ctx, monkeypatch):
    monkeypatch.setattr(prepare, "is_installed", lambda name: False)
    runner = FakeRunner()
    prepare_environment(make_ctx(["--skip-torch-cuda-test", "--xformers", "--ngrok", "tok"], runner=runner,
                                 environ={"INDEX_URL": "http://mirror/simple"}))
    pip = [sys.executable, "-m", "pip"]
    tail = ["--prefer-binary", "--index-url", "http://mirror/simple"]
    assert pip + ["install", "-U", "-I", "--no-deps", "xformers"] + tail in runner.calls
    assert pip + ["install", "pyngrok"] + tail in runner.calls


def test_xformers_not_reinstalled_when_present(make_ctx, monkeypatch):
    monkeypatch.setattr(prepare, "is_installed", lambda name: True)
    runner = FakeRunner()
    prepare_environment(make_ctx(["--skip-torch-cuda-test", "--xformers"], runner=runner))
    assert not runner.commands_with("xformers")
    prepare_environment(make_ctx(["--skip-torch-cuda-test", "--xformers", "--reinstall-xformers"], runner=runner))
    assert runner.commands_with("xformers")


def test_requirements_file_from_environment(make_ctx, tmp_path):
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("surely-not-installed-package==1\n")
    runner = FakeRunner()
    prepare_environment(make_ctx(["--skip-torch-cuda-test"], environ={"REQS_FILE": str(reqs)}, runner=runner))
    assert [sys.executable, "-m", "pip", "install", "-r", str(reqs), "--prefer-binary"] in runner.calls


def test_restart_marker_removed_and_restarting_set(make_ctx):
    marker = make_ctx.install / "tmp" / "restart"
    marker.parent.mkdir()
    marker.write_text("")
    ctx = make_ctx(["--skip-torch-cuda-test"])
    prepare_environment(ctx)
    assert not marker.exists()
    assert ctx.environ["SD_WEBUI_RESTARTING"] == "1"
    assert "SD_WEBUI_RESTARTING" not in make_ctx(["--skip-torch-cuda-test"]).environ


def test_prints_version_lines(make_ctx, capsys):
    (make_ctx.install / "CHANGELOG.md").write_text("## 1.10.1\n\n### Bug Fixes\n")
    prepare_environment(make_ctx(["--skip-torch-cuda-test"]))
    out = capsys.readouterr().out
    assert "Python 3." in out
    assert "Version: 1.10.1" in out
    assert "Commit hash: <none>" in out


def test_python_version_warning_only_for_untested_versions():
    assert python_version_warning((3, 11, 7)) is None
    assert python_version_warning((3, 10, 6)) is None
    warning = python_version_warning((3, 9, 1))
    assert "3.9.1" in warning and "--skip-python-version-check" in warning


def test_update_check_offline_is_soft(make_ctx, capsys):
    prepare_environment(make_ctx(["--skip-torch-cuda-test", "--update-check", "--update-all-extensions"]))
    assert "Update check skipped" in capsys.readouterr().out
