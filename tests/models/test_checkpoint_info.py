"""CheckpointInfo: A1111's names, ids, lazy sha256 titles, metadata through the cache, closest match."""
from __future__ import annotations

import hashlib
import os
import pathlib
import random
import types

import torch
from safetensors.torch import save_file

from modules.core import hashing
from modules.core.cache import DiskCache
from modules.core.cmd_args import build_parser
from modules.core.paths import resolve_path_flags
from modules.models.checkpoints import CheckpointInfo, CheckpointRegistry
from modules.models.checkpoints import info as info_module


def _env(tmp_path, *flags: str):
    cmd_opts = build_parser().parse_args(["--data-dir", str(tmp_path), *flags])
    paths = resolve_path_flags(cmd_opts)
    settings = types.SimpleNamespace(list_hidden_files=True, sd_model_checkpoint=None, data={})
    cache = DiskCache(paths.cache_dir, legacy_file="")
    return CheckpointRegistry(paths, cmd_opts, settings, cache), pathlib.Path(paths.sd_models_dir)


def _big(path: pathlib.Path, seed: int = 0) -> bytes:
    data = random.Random(seed).randbytes(0x100000 + 0x10000 + 100)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def test_fields_before_hashing(tmp_path):
    registry, sd = _env(tmp_path)
    data = _big(sd / "sub" / "My Model.ckpt")
    info = CheckpointInfo(str(sd / "sub" / "My Model.ckpt"), registry)
    legacy = hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    assert info.filename == str(sd / "sub" / "My Model.ckpt")
    assert info.name == "sub/My Model.ckpt"
    assert info.name_for_extra == "My Model"
    assert info.model_name == "sub_My Model"
    assert info.is_safetensors is False
    assert info.metadata == {}
    assert info.hash == legacy
    assert info.sha256 is None and info.shorthash is None
    assert info.title == "sub/My Model.ckpt"
    assert info.short_title == "My Model"
    assert info.ids == [legacy, "sub_My Model", "sub/My Model.ckpt", "sub/My Model.ckpt", "My Model",
                        f"sub/My Model.ckpt [{legacy}]"]


def test_file_outside_the_model_folders_is_named_by_basename(tmp_path):
    registry, sd = _env(tmp_path)
    other = tmp_path / "Stable-diffusion-extra" / "x.ckpt"  # shares a prefix with the folder name
    _big(other)
    assert CheckpointInfo(str(other), registry).name == "x.ckpt"


def test_calculate_shorthash_retitles_in_place(tmp_path, capsys):
    registry, sd = _env(tmp_path)
    for name in ("a.ckpt", "b.ckpt", "c.ckpt"):
        _big(sd / name, seed=len(name) + ord(name[0]))
    registry.refresh()
    info = registry.checkpoints_list["b.ckpt"]
    expected = hashlib.sha256((sd / "b.ckpt").read_bytes()).hexdigest()

    assert info.calculate_shorthash() == expected[:10]
    assert f"Calculating sha256 for {sd / 'b.ckpt'}: {expected}" in capsys.readouterr().out
    assert info.sha256 == expected
    assert info.title == f"b.ckpt [{expected[:10]}]"
    assert info.short_title == f"b [{expected[:10]}]"
    assert registry.titles() == ["a.ckpt", f"b.ckpt [{expected[:10]}]", "c.ckpt"]
    for alias in (expected[:10], expected, f"b.ckpt [{expected[:10]}]", f"b [{expected[:10]}]", "b.ckpt", info.hash):
        assert registry.checkpoint_aliases[alias] is info

    # a second call is answered from the object; a new listing takes the title from the cache
    assert info.calculate_shorthash() == expected[:10]
    registry.refresh()
    assert registry.titles() == ["a.ckpt", f"b.ckpt [{expected[:10]}]", "c.ckpt"]
    assert registry.checkpoints_list[f"b.ckpt [{expected[:10]}]"].sha256 == expected


def test_listing_reads_hashes_only_from_the_cache(tmp_path, monkeypatch):
    registry, sd = _env(tmp_path)
    _big(sd / "a.ckpt")
    monkeypatch.setattr(hashing, "calculate_sha256", lambda f: (_ for _ in ()).throw(AssertionError("hashed")))
    registry.refresh()
    assert registry.titles() == ["a.ckpt"]


def test_no_hashing_keeps_plain_titles(tmp_path):
    registry, sd = _env(tmp_path, "--no-hashing")
    _big(sd / "a.ckpt")
    registry.refresh()
    info = registry.checkpoints_list["a.ckpt"]
    assert info.calculate_shorthash() is None
    assert registry.titles() == ["a.ckpt"]


def test_changed_file_loses_its_cached_hash(tmp_path):
    registry, sd = _env(tmp_path)
    _big(sd / "a.ckpt", seed=1)
    registry.refresh()
    registry.checkpoints_list["a.ckpt"].calculate_shorthash()
    _big(sd / "a.ckpt", seed=2)
    st = os.stat(sd / "a.ckpt")
    os.utime(sd / "a.ckpt", (st.st_atime, st.st_mtime + 5))
    registry.refresh()
    assert registry.titles() == ["a.ckpt"]


def test_metadata_read_through_the_cache(tmp_path, monkeypatch):
    registry, sd = _env(tmp_path)
    path = sd / "meta.safetensors"
    sd.mkdir(parents=True)
    save_file({"w": torch.zeros(4)}, str(path),
              metadata={"modelspec.title": "Meta", "cfg": '{"steps": 20}', "modelspec.thumbnail": "data:x"})
    registry.refresh()
    info = registry.checkpoints_list["meta.safetensors"]
    assert info.is_safetensors
    assert info.metadata == {"modelspec.title": "Meta", "cfg": {"steps": 20}}
    assert info.modelspec_thumbnail == "data:x"
    stored = registry.cache.cache("safetensors-metadata")["checkpoint/meta.safetensors"]
    assert stored == {"mtime": os.path.getmtime(path), "value": info.metadata}

    calls = []
    real = info_module.read_metadata_and_thumbnail
    monkeypatch.setattr(info_module, "read_metadata_and_thumbnail", lambda f: calls.append(f) or real(f))
    registry.refresh()
    assert calls == []
    assert registry.checkpoints_list["meta.safetensors"].metadata == info.metadata


def test_broken_safetensors_is_listed_without_metadata(tmp_path, capsys):
    registry, sd = _env(tmp_path)
    sd.mkdir(parents=True)
    (sd / "broken.safetensors").write_bytes((10**6).to_bytes(8, "little") + b'{"x')
    registry.refresh()
    assert registry.checkpoints_list["broken.safetensors"].metadata == {}
    err = capsys.readouterr().err
    assert "broken.safetensors" in err and "not a valid safetensors file" in err


def test_closest_match(tmp_path):
    registry, sd = _env(tmp_path)
    _big(sd / "anime" / "anything-v3.safetensors", seed=1)
    _big(sd / "anything-v3-extra-long-name.ckpt", seed=2)
    _big(sd / "realistic.ckpt", seed=3)
    registry.refresh()
    real = registry.checkpoints_list["realistic.ckpt"]
    real.calculate_shorthash()

    anime = registry.checkpoints_list["anime/anything-v3.safetensors"]
    assert registry.get_closest_match("anime/anything-v3.safetensors") is anime
    assert registry.get_closest_match("anime_anything-v3") is anime
    assert registry.get_closest_match("anything-v3") is anime  # exact name_for_extra
    assert registry.get_closest_match("anything") is anime  # shortest title containing it
    assert registry.get_closest_match(real.hash) is real
    assert registry.get_closest_match(real.sha256) is real
    assert registry.get_closest_match(real.shorthash) is real
    assert registry.get_closest_match("realistic [0000000000]") is real  # stale hash in a pasted title
    assert registry.get_closest_match("realistic.ckpt [0000000000]") is real
    assert registry.get_closest_match("nothing like it") is None
    assert registry.get_closest_match("") is None
    assert registry.get_closest_match(None) is None
