"""The suite cleans up after killed runs and says when the disk cannot hold a full-size checkpoint."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests import disk_space


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def run_folder(root, name: str, owner: int | None):
    folder = root / name
    folder.mkdir()
    (folder / "random-sd15.safetensors").write_bytes(b"x" * 10)
    if owner is not None:
        (folder / disk_space.OWNER_FILE).write_text(str(owner))
    return folder


def test_folders_of_ended_runs_are_removed_and_live_ones_kept(tmp_path):
    abandoned = run_folder(tmp_path, "webui-test-run-abc", dead_pid())
    abandoned_checkpoints = run_folder(tmp_path, "fullsize-checkpoints-abc", dead_pid())
    live = run_folder(tmp_path, "webui-test-run-live", os.getppid())
    ours = run_folder(tmp_path, "webui-test-run-ours", os.getpid())
    unowned = run_folder(tmp_path, "webui-test-run-old", None)
    someone_elses = run_folder(tmp_path, "other-tool-abc", dead_pid())

    removed = disk_space.remove_abandoned_run_folders(tmp_path)

    assert sorted(removed) == sorted([abandoned, abandoned_checkpoints])
    assert not abandoned.exists() and not abandoned_checkpoints.exists()
    assert live.exists() and ours.exists() and unowned.exists() and someone_elses.exists()


def test_a_new_run_folder_names_its_owner(tmp_path, monkeypatch):
    monkeypatch.setattr(disk_space.tempfile, "tempdir", str(tmp_path))
    folder = disk_space.make_run_folder("webui-test-run-")
    assert folder.parent == tmp_path
    assert (folder / disk_space.OWNER_FILE).read_text() == str(os.getpid())
    assert disk_space.remove_abandoned_run_folders(tmp_path) == []


def test_a_file_larger_than_the_free_disk_is_refused_with_the_numbers(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(disk_space.NotEnoughDisk) as refused:
        disk_space.require_free_disk(tmp_path, free, "writing the full-size sd15 checkpoint")
    message = str(refused.value)
    assert "writing the full-size sd15 checkpoint needs about" in message
    assert f"{free / 2**30:.1f} GB are free" in message
    disk_space.require_free_disk(tmp_path, 1 << 20, "a small file", reserve_bytes=0)
