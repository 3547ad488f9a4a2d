"""A1111 import paths (sd_models, sd_vae, hashes, cache, modelloader) read the live objects on modules.shared."""
from __future__ import annotations

import hashlib
import pathlib
import types

import pytest
import torch
from safetensors.torch import save_file

from modules.core.cache import DiskCache
from modules.core.cmd_args import build_parser
from modules.core.paths import resolve_path_flags
from modules.models.checkpoints import CheckpointRegistry
from modules.models.vae_files import VaeRegistry


@pytest.fixture
def live(tmp_path, restore_shared):
    shared = restore_shared
    cmd_opts = build_parser().parse_args(["--data-dir", str(tmp_path)])
    paths = resolve_path_flags(cmd_opts)
    opts = types.SimpleNamespace(list_hidden_files=True, sd_model_checkpoint=None, data={})
    shared.cmd_opts, shared.paths, shared.opts = cmd_opts, paths, opts
    shared.cache = DiskCache.for_paths(paths)
    shared.checkpoints = CheckpointRegistry(paths, cmd_opts, opts, shared.cache)
    shared.vae_files = VaeRegistry(paths, cmd_opts)
    sd = pathlib.Path(paths.sd_models_dir)
    sd.mkdir(parents=True)
    save_file({"w": torch.zeros(3)}, str(sd / "one.safetensors"), metadata={"k": '{"a": 1}'})
    (sd / "two.ckpt").write_bytes(b"2" * 100)
    shared.checkpoints.refresh()
    yield shared
    shared.cache.close()


def test_sd_models_names(live):
    from modules import sd_models

    assert sd_models.checkpoints_list is live.checkpoints.checkpoints_list
    assert sd_models.checkpoint_aliases is live.checkpoints.checkpoint_aliases
    assert sd_models.model_path == live.paths.sd_models_dir
    assert sd_models.checkpoint_tiles() == ["one.safetensors", "two.ckpt"]
    assert sd_models.checkpoint_tiles(use_short=True) == ["one", "two"]
    assert sd_models.get_closet_checkpoint_match("two").name == "two.ckpt"
    assert sd_models.select_checkpoint().name == "one.safetensors"
    path = pathlib.Path(live.paths.sd_models_dir) / "two.ckpt"
    assert sd_models.model_hash(str(path)) == hashlib.sha256(b"").hexdigest()[:8]
    assert sd_models.read_metadata_from_safetensors(str(pathlib.Path(live.paths.sd_models_dir) / "one.safetensors")) == {"k": {"a": 1}}
    with pytest.raises(AttributeError):
        sd_models.no_such_name  # noqa: B018

    (pathlib.Path(live.paths.sd_models_dir) / "three.ckpt").write_bytes(b"3")
    sd_models.list_models()
    assert "three.ckpt" in sd_models.checkpoints_list


def test_extension_made_checkpoint_info(live):
    from modules import sd_models

    path = pathlib.Path(live.paths.sd_models_dir) / "merged.ckpt"
    path.write_bytes(b"m")
    info = sd_models.CheckpointInfo(str(path))
    info.register()
    assert sd_models.checkpoints_list["merged.ckpt"] is info
    assert info.calculate_shorthash() == hashlib.sha256(b"m").hexdigest()[:10]
    assert sd_models.checkpoint_tiles()[-1] == f"merged.ckpt [{info.shorthash}]"


def test_hashes_and_cache_modules(live, tmp_path):
    from modules import cache, hashes

    f = tmp_path / "file.bin"
    f.write_bytes(b"abc")
    assert hashes.sha256_from_cache(str(f), "x/file") is None
    assert hashes.sha256(str(f), "x/file") == hashlib.sha256(b"abc").hexdigest()
    assert hashes.sha256_from_cache(str(f), "x/file") == hashlib.sha256(b"abc").hexdigest()
    assert hashes.calculate_sha256(str(f)) == hashlib.sha256(b"abc").hexdigest()
    assert cache.cache("hashes")["x/file"]["sha256"] == hashlib.sha256(b"abc").hexdigest()
    assert cache.cached_data_for_file("demo", "x", str(f), lambda: 42) == 42
    cache.dump_cache()

    live.cmd_opts.no_hashing = True
    f2 = tmp_path / "other.bin"
    f2.write_bytes(b"z")
    assert hashes.sha256(str(f2), "x/other") is None


def test_sd_vae_and_modelloader(live):
    from modules import modelloader, sd_vae

    vae_dir = pathlib.Path(live.paths.model_dir("VAE"))
    vae_dir.mkdir(parents=True)
    (vae_dir / "v.pt").write_bytes(b"v")
    sd_vae.refresh_vae_list()
    assert sd_vae.vae_dict == {"v.pt": str(vae_dir / "v.pt")}
    assert sd_vae.vae_path == str(vae_dir)
    assert sd_vae.get_filename("/a/b/c.pt") == "c.pt"

    sd = live.paths.sd_models_dir
    assert [pathlib.Path(p).name for p in modelloader.load_models(sd, ext_filter=[".ckpt"])] == ["two.ckpt"]
    assert [pathlib.Path(p).name for p in modelloader.walk_files(sd, [".safetensors"])] == ["one.safetensors"]
    with pytest.raises(modelloader.ModelFileMissingError):
        modelloader.load_file_from_url("https://x.org/m.pth", model_dir=str(vae_dir))
    assert modelloader.cleanup_models() == []
