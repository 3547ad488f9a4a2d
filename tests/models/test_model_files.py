"""Walking model folders, listing model files, moving stray files, and the no-download rule."""
from __future__ import annotations

import os

import pytest

from modules.core.cmd_args import build_parser
from modules.core.paths import resolve_path_flags
from modules.models.model_files import (
    ModelFileMissingError,
    cleanup_models,
    friendly_name,
    list_model_files,
    load_file_from_url,
    model_search_dirs,
    natural_sort_key,
    walk_files,
)


def _make(root, *rels: str) -> None:
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rel.encode())


def _rel(paths, root) -> list[str]:
    return [os.path.relpath(p, root) for p in paths]


def test_natural_sort_key():
    names = ["b10", "B2", "a", "b1", "a10", "a9"]
    assert sorted(names, key=natural_sort_key) == ["a", "a9", "a10", "b1", "B2", "b10"]


def test_walk_files_natural_order_and_filter(tmp_path):
    _make(tmp_path, "m10.ckpt", "m2.safetensors", "M1.CKPT", "notes.txt",
          "sub10/x.ckpt", "sub2/y.ckpt", "sub2/deeper/z.ckpt")
    found = _rel(walk_files(str(tmp_path), [".ckpt", ".safetensors"]), tmp_path)
    assert found == ["M1.CKPT", "m2.safetensors", "m10.ckpt", "sub2/y.ckpt", "sub2/deeper/z.ckpt", "sub10/x.ckpt"]
    assert "notes.txt" in _rel(walk_files(str(tmp_path)), tmp_path)


def test_walk_files_missing_folder(tmp_path):
    assert list(walk_files(str(tmp_path / "nope"))) == []


def test_hidden_folders_only_when_asked(tmp_path):
    _make(tmp_path, "a.ckpt", ".hidden/b.ckpt", "sub/.deep/c.ckpt", ".visible-file.ckpt")
    everything = _rel(walk_files(str(tmp_path), [".ckpt"], list_hidden=True), tmp_path)
    assert sorted(everything) == sorted([".hidden/b.ckpt", ".visible-file.ckpt", "a.ckpt", "sub/.deep/c.ckpt"])
    # hidden folders are left out, hidden files in normal folders stay (as in A1111)
    shown = _rel(walk_files(str(tmp_path), [".ckpt"], list_hidden=False), tmp_path)
    assert sorted(shown) == [".visible-file.ckpt", "a.ckpt"]


def test_walked_folder_inside_a_hidden_folder_still_lists(tmp_path):
    base = tmp_path / ".local" / "models"
    _make(base, "a.ckpt")
    assert _rel(walk_files(str(base), [".ckpt"], list_hidden=False), base) == ["a.ckpt"]


def test_symlinks_followed_broken_skipped_loops_end(tmp_path, capsys):
    outside = tmp_path / "outside"
    _make(outside, "linked.ckpt")
    root = tmp_path / "root"
    _make(root, "real.ckpt")
    os.symlink(outside, root / "link")
    os.symlink(tmp_path / "missing.ckpt", root / "broken.ckpt")
    os.symlink(root, outside / "loop")

    found = _rel(walk_files(str(root), [".ckpt"]), root)
    assert "link/linked.ckpt" in found
    assert "real.ckpt" in found
    assert "broken.ckpt" not in found
    assert "Skipping broken symlink" in capsys.readouterr().out
    # the loop back to root is not walked again
    assert not any(f.startswith("link/loop") for f in found)


def test_list_model_files_blacklist_and_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _make(a, "z.safetensors", "z.vae.safetensors")
    _make(b, "m.ckpt", "m.vae.ckpt", "M.VAE.CKPT", "x.pt")
    found = list_model_files([str(a), str(b), str(a)], [".ckpt", ".safetensors"], [".vae.ckpt", ".vae.safetensors"])
    assert found == [str(a / "z.safetensors"), str(b / "m.ckpt")]


def test_model_search_dirs(tmp_path):
    model_path, flag = tmp_path / "models", tmp_path / "flag"
    assert model_search_dirs(str(model_path), None) == [str(model_path)]
    assert model_search_dirs(str(model_path), str(flag)) == [str(model_path)]  # flag folder missing
    flag.mkdir()
    assert model_search_dirs(str(model_path), str(flag)) == [str(flag), str(model_path)]
    (flag / "experiments" / "pretrained_models").mkdir(parents=True)
    assert model_search_dirs(str(model_path), str(flag)) == [
        os.path.join(str(flag), "experiments", "pretrained_models"), str(model_path)]
    assert model_search_dirs(str(model_path), str(model_path)) == [str(model_path)]


def _paths(tmp_path):
    install, data = tmp_path / "install", tmp_path / "data"
    install.mkdir()
    return resolve_path_flags(build_parser().parse_args(["--data-dir", str(data)]), install_dir=str(install))


def test_cleanup_models_moves_and_never_overwrites(tmp_path, capsys):
    paths = _paths(tmp_path)
    models, install = tmp_path / "data" / "models", tmp_path / "install"
    _make(models, "stray.ckpt", "stray.safetensors", "keep.txt", "clash.ckpt", "Stable-diffusion/clash.ckpt")
    (models / "Stable-diffusion" / "clash.ckpt").write_bytes(b"original")
    (models / "folder.ckpt").mkdir()
    _make(install, "ESRGAN/4x.pth", "gfpgan/GFPGANv1.4.pth", "SwinIR/swin.pth")
    _make(models, "BSRGAN/b.pth", "BSRGAN/readme.md")

    moved = cleanup_models(paths)

    sd = models / "Stable-diffusion"
    assert (sd / "stray.ckpt").read_bytes() == b"stray.ckpt"
    assert (sd / "stray.safetensors").exists()
    assert (sd / "clash.ckpt").read_bytes() == b"original"
    assert (models / "clash.ckpt").exists()  # left where it was
    assert (models / "keep.txt").exists()
    assert (models / "folder.ckpt").is_dir()
    assert (models / "ESRGAN" / "4x.pth").exists()
    assert (models / "ESRGAN" / "b.pth").exists()
    assert (models / "BSRGAN" / "readme.md").exists()
    assert (models / "GFPGAN" / "GFPGANv1.4.pth").exists()
    assert (models / "SwinIR" / "swin.pth").exists()
    assert not (install / "ESRGAN").exists()  # emptied legacy folders are removed
    assert models.is_dir()
    assert (str(models / "stray.ckpt"), str(sd / "stray.ckpt")) in moved
    assert "already exists" in capsys.readouterr().out

    assert cleanup_models(paths) == []  # nothing left to move


def test_cleanup_models_with_nothing_to_do(tmp_path):
    paths = _paths(tmp_path)
    assert cleanup_models(paths) == []


def test_load_file_from_url(tmp_path):
    url = "https://example.com/files/RealESRGAN_x4plus.pth?download=1"
    model_dir = tmp_path / "RealESRGAN"
    with pytest.raises(ModelFileMissingError) as info:
        load_file_from_url(url, model_dir=str(model_dir))
    message = str(info.value)
    assert str(model_dir / "RealESRGAN_x4plus.pth") in message
    assert url in message and "does not download" in message
    assert isinstance(info.value, FileNotFoundError)
    assert model_dir.is_dir()

    (model_dir / "RealESRGAN_x4plus.pth").write_bytes(b"w")
    assert load_file_from_url(url, model_dir=str(model_dir)) == str(model_dir / "RealESRGAN_x4plus.pth")
    (model_dir / "other.pth").write_bytes(b"w")
    assert load_file_from_url(url, str(model_dir), file_name="other.pth") == str(model_dir / "other.pth")


def test_friendly_name():
    assert friendly_name("https://x.org/a/4x_foo.pth") == "4x_foo"
    assert friendly_name("/models/ESRGAN/bar.pt") == "bar"
