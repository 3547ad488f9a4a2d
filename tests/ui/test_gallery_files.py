"""Gallery copies: one folder per server process, removed by a later start once that process has ended;
a user's ``temp_dir`` is cleaned only when ``clean_temp_dir_at_start`` says so."""
from __future__ import annotations

import os
import subprocess
import sys
import types

from PIL import Image

from modules import shared
from modules.ui import gallery_files


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_copies_go_to_this_process_folder_and_stale_folders_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(gallery_files.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(shared, "opts", types.SimpleNamespace(temp_dir="", clean_temp_dir_at_start=False))
    image = Image.new("RGB", (8, 8), (10, 20, 30))
    image.info["parameters"] = "a cat\nSteps: 3"
    path = gallery_files.to_gallery_file(image)
    assert os.path.dirname(path) == str(tmp_path / "webui-gallery" / str(os.getpid()))
    assert Image.open(path).info["parameters"] == "a cat\nSteps: 3"

    root = tmp_path / "webui-gallery"
    stale = root / str(dead_pid())
    alive = root / str(os.getppid())  # another running server's folder
    for folder in (stale, alive):
        folder.mkdir()
        (folder / "image-1.png").write_bytes(b"x")
    removed = gallery_files.cleanup_at_start()
    assert removed == [str(stale)]
    assert not stale.exists() and (alive / "image-1.png").exists() and os.path.exists(path)


def test_a_configured_temp_dir_is_cleaned_only_when_the_setting_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(gallery_files.tempfile, "gettempdir", lambda: str(tmp_path / "system"))
    user_dir = tmp_path / "mine"
    (user_dir / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.PNG", "notes.txt"):
        (user_dir / name).write_bytes(b"x")
    monkeypatch.setattr(shared, "opts", types.SimpleNamespace(temp_dir=str(user_dir), clean_temp_dir_at_start=False))
    assert gallery_files.cleanup_at_start() == []
    assert (user_dir / "a.png").exists()
    shared.opts.clean_temp_dir_at_start = True
    assert sorted(gallery_files.cleanup_at_start()) == sorted([str(user_dir / "a.png"), str(user_dir / "sub" / "b.PNG")])
    assert (user_dir / "notes.txt").exists(), "only pictures are removed"
    assert gallery_files.temp_folder() == str(user_dir)
