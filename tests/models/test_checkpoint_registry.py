"""Checkpoint discovery and selection: folders, order, --ckpt, --ckpt-dir, the API list, no checkpoints."""
from __future__ import annotations

import json
import os
import pathlib
import types

import pytest
import torch
from safetensors.torch import save_file

from modules.core.cache import DiskCache
from modules.core.cmd_args import build_parser
from modules.core.options.catalogue import build_catalogue
from modules.core.options.store import Options
from modules.core.paths import resolve_path_flags
from modules.models.checkpoints import CheckpointRegistry, NoCheckpointsError

from tests.reference_answers import RESPONSES
A1111_SD_MODELS = pathlib.Path(RESPONSES) / "sd-models.json"


def _settings(**values):
    base = {"list_hidden_files": True, "sd_model_checkpoint": None}
    base.update(values)
    return types.SimpleNamespace(data=dict(base), **base)


def _env(tmp_path, *flags: str, settings=None):
    cmd_opts = build_parser().parse_args(["--data-dir", str(tmp_path), *flags])
    paths = resolve_path_flags(cmd_opts)
    cache = DiskCache(paths.cache_dir, legacy_file="")
    registry = CheckpointRegistry(paths, cmd_opts, settings or _settings(), cache)
    return registry, paths


def _ckpt(path: pathlib.Path, content: bytes = b"weights") -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        save_file({"w": torch.zeros(2)}, str(path))
    else:
        path.write_bytes(content)
    return path


def test_lists_models_folder_recursively_in_natural_order(tmp_path):
    registry, paths = _env(tmp_path)
    sd = pathlib.Path(paths.sd_models_dir)
    for rel in ("model10.ckpt", "model2.safetensors", "sub/inner.safetensors", "a.vae.safetensors", "b.vae.ckpt",
                "vae.pt", "readme.txt", "Sub2/z.CKPT"):
        _ckpt(sd / rel)
    registry.refresh()
    assert registry.titles() == ["model2.safetensors", "model10.ckpt", "sub/inner.safetensors", "Sub2/z.CKPT"]
    assert list(registry.checkpoints_list) == registry.titles()
    inner = registry.checkpoints_list["sub/inner.safetensors"]
    assert inner.filename == str(sd / "sub" / "inner.safetensors")
    assert inner.model_name == "sub_inner"
    assert inner.name_for_extra == "inner"
    assert registry.titles(use_short=True) == ["model2", "model10", "inner", "z"]


def test_ckpt_dir_is_listed_first(tmp_path):
    flag_dir = tmp_path / "external"
    _ckpt(flag_dir / "ext.ckpt")
    _ckpt(flag_dir / "ext.vae.safetensors")
    registry, paths = _env(tmp_path, "--ckpt-dir", str(flag_dir))
    _ckpt(pathlib.Path(paths.sd_models_dir) / "local.ckpt")
    registry.refresh()
    assert registry.titles() == ["ext.ckpt", "local.ckpt"]
    assert registry.checkpoints_list["ext.ckpt"].name == "ext.ckpt"


def test_ckpt_dir_with_pretrained_models_only_walks_that(tmp_path):
    flag_dir = tmp_path / "external"
    _ckpt(flag_dir / "ignored.ckpt")
    _ckpt(flag_dir / "experiments" / "pretrained_models" / "pre.ckpt")
    registry, paths = _env(tmp_path, "--ckpt-dir", str(flag_dir))
    registry.refresh()
    assert registry.titles() == ["experiments/pretrained_models/pre.ckpt"]


def test_hidden_folders_follow_the_setting(tmp_path):
    settings = _settings(list_hidden_files=False)
    registry, paths = _env(tmp_path, settings=settings)
    sd = pathlib.Path(paths.sd_models_dir)
    _ckpt(sd / "shown.ckpt")
    _ckpt(sd / ".trash" / "hidden.ckpt")
    registry.refresh()
    assert registry.titles() == ["shown.ckpt"]
    settings.list_hidden_files = True
    registry.refresh()
    assert registry.titles() == ["shown.ckpt", ".trash/hidden.ckpt"]


def test_refresh_picks_up_new_and_removed_files(tmp_path):
    registry, paths = _env(tmp_path)
    sd = pathlib.Path(paths.sd_models_dir)
    first = _ckpt(sd / "a.ckpt")
    registry.refresh()
    live = registry.checkpoints_list
    _ckpt(sd / "b.ckpt")
    first.unlink()
    registry.refresh()
    assert registry.titles() == ["b.ckpt"]
    assert live is registry.checkpoints_list  # same dict object, updated in place
    assert "a.ckpt" not in registry.checkpoint_aliases


def test_cmd_ckpt_is_registered_first_and_selected(tmp_path):
    outside = _ckpt(tmp_path / "elsewhere" / "chosen.ckpt")
    opts = Options(build_catalogue())
    registry, paths = _env(tmp_path, "--ckpt", str(outside), settings=opts)
    _ckpt(pathlib.Path(paths.sd_models_dir) / "a.ckpt")
    registry.refresh()
    assert registry.titles() == ["chosen.ckpt", "a.ckpt"]
    assert opts.sd_model_checkpoint == "chosen.ckpt"
    assert registry.select(opts.sd_model_checkpoint).filename == str(outside)
    assert registry.select().filename == str(outside)


def test_cmd_ckpt_missing_is_reported(tmp_path, capsys):
    registry, paths = _env(tmp_path, "--ckpt", str(tmp_path / "gone.ckpt"))
    _ckpt(pathlib.Path(paths.sd_models_dir) / "a.ckpt")
    registry.refresh()
    assert registry.titles() == ["a.ckpt"]
    assert "gone.ckpt" in capsys.readouterr().err


def test_select_by_setting_and_fallback(tmp_path, capsys):
    settings = _settings(sd_model_checkpoint="b.ckpt")
    registry, paths = _env(tmp_path, settings=settings)
    sd = pathlib.Path(paths.sd_models_dir)
    _ckpt(sd / "a.ckpt")
    _ckpt(sd / "b.ckpt", b"other")
    registry.refresh()
    assert registry.select().name == "b.ckpt"
    assert registry.select("a").name == "a.ckpt"
    assert capsys.readouterr().err == ""

    fallback = registry.select("missing.safetensors [0123456789]")
    assert fallback.name == "a.ckpt"
    assert "Checkpoint missing.safetensors [0123456789] not found; loading fallback a.ckpt" in capsys.readouterr().err


def test_no_checkpoints_error_lists_folders(tmp_path):
    flag_dir = tmp_path / "external"
    flag_dir.mkdir()
    registry, paths = _env(tmp_path, "--ckpt-dir", str(flag_dir), "--ckpt", str(tmp_path / "x.ckpt"))
    registry.refresh()
    with pytest.raises(NoCheckpointsError) as info:
        registry.select()
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert paths.sd_models_dir in message
    assert str(flag_dir) in message
    assert str(tmp_path / "x.ckpt") in message
    assert ".safetensors" in message and "place" in message


def test_vae_checkpoints_never_listed(tmp_path):
    registry, paths = _env(tmp_path)
    _ckpt(pathlib.Path(paths.sd_models_dir) / "x.vae.safetensors")
    _ckpt(pathlib.Path(paths.sd_models_dir) / "x.vae.ckpt")
    registry.refresh()
    assert registry.titles() == []


def test_api_list_matches_a1111_shape(tmp_path):
    registry, paths = _env(tmp_path)
    sd = pathlib.Path(paths.sd_models_dir)
    model = _ckpt(sd / "random-sd15.safetensors")
    _ckpt(sd / "with-config.ckpt")
    (sd / "with-config.yaml").write_text("model: {}\n")
    registry.refresh()
    registry.checkpoints_list["random-sd15.safetensors"].calculate_shorthash()

    items = registry.as_api_list()
    a1111 = json.loads(A1111_SD_MODELS.read_text())["body"][0]
    assert [list(item) for item in items] == [list(a1111)] * 2
    first = items[0]
    sha = registry.checkpoints_list[first["title"]].sha256
    assert first == {
        "title": f"random-sd15.safetensors [{sha[:10]}]",
        "model_name": "random-sd15",
        "hash": sha[:10],
        "sha256": sha,
        "filename": str(model),
        "config": None,
    }
    assert items[1] == {"title": "with-config.ckpt", "model_name": "with-config", "hash": None, "sha256": None,
                        "filename": str(sd / "with-config.ckpt"), "config": str(sd / "with-config.yaml")}
    assert os.path.isabs(items[1]["filename"])
