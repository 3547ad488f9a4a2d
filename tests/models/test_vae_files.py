"""VAE file listing: folders, suffix rules, name keys, natural order, the API list."""
from __future__ import annotations

import json
import pathlib

from modules.core.cmd_args import build_parser
from modules.core.paths import resolve_path_flags
from modules.models.vae_files import VaeRegistry

from tests.reference_answers import RESPONSES
A1111_SD_VAE = pathlib.Path(RESPONSES) / "sd-vae.json"


def _env(tmp_path, *flags: str):
    cmd_opts = build_parser().parse_args(["--data-dir", str(tmp_path), *flags])
    paths = resolve_path_flags(cmd_opts)
    return VaeRegistry(paths, cmd_opts), paths


def _touch(path: pathlib.Path) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"vae")
    return path


def test_empty_listing_matches_a1111(tmp_path):
    registry, _ = _env(tmp_path)
    registry.refresh()
    assert registry.vae_dict == {}
    assert registry.as_api_list() == json.loads(A1111_SD_VAE.read_text())["body"]


def test_folders_and_suffix_rules(tmp_path):
    flag_ckpt, flag_vae = tmp_path / "ckpts", tmp_path / "vaes"
    registry, paths = _env(tmp_path, "--ckpt-dir", str(flag_ckpt), "--vae-dir", str(flag_vae))
    sd, vae = pathlib.Path(paths.sd_models_dir), pathlib.Path(paths.model_dir("VAE"))
    _touch(sd / "model.safetensors")          # a checkpoint, not a VAE
    _touch(sd / "sub" / "model.vae.pt")
    _touch(sd / "x.vae.safetensors")
    _touch(vae / "vae-ft-mse-840000.safetensors")
    _touch(vae / "deep" / "kl-f8.ckpt")
    _touch(vae / "notes.txt")
    _touch(vae / ".hidden" / "secret.pt")
    _touch(vae / ".dot.pt")
    _touch(flag_ckpt / "c.ckpt")
    _touch(flag_ckpt / "c.vae.ckpt")
    _touch(flag_vae / "v10.pt")
    _touch(flag_vae / "v9.pt")
    registry.refresh()

    assert list(registry.vae_dict) == ["c.vae.ckpt", "kl-f8.ckpt", "model.vae.pt", "v9.pt", "v10.pt",
                                       "vae-ft-mse-840000.safetensors", "x.vae.safetensors"]
    assert registry.vae_dict["model.vae.pt"] == str(sd / "sub" / "model.vae.pt")
    assert registry.vae_dict["kl-f8.ckpt"] == str(vae / "deep" / "kl-f8.ckpt")
    assert registry.vae_dict["c.vae.ckpt"] == str(flag_ckpt / "c.vae.ckpt")
    assert registry.as_api_list()[0] == {"model_name": "c.vae.ckpt", "filename": str(flag_ckpt / "c.vae.ckpt")}


def test_vae_dir_wins_a_name_clash(tmp_path):
    flag_vae = tmp_path / "vaes"
    registry, paths = _env(tmp_path, "--vae-dir", str(flag_vae))
    _touch(pathlib.Path(paths.model_dir("VAE")) / "same.pt")
    _touch(flag_vae / "same.pt")
    registry.refresh()
    assert registry.vae_dict == {"same.pt": str(flag_vae / "same.pt")}


def test_missing_flag_folders_are_ignored(tmp_path):
    registry, paths = _env(tmp_path, "--vae-dir", str(tmp_path / "nope"), "--ckpt-dir", str(tmp_path / "nope2"))
    _touch(pathlib.Path(paths.model_dir("VAE")) / "a.pt")
    registry.refresh()
    assert list(registry.vae_dict) == ["a.pt"]


def test_refresh_updates_in_place_and_near_checkpoint(tmp_path):
    registry, paths = _env(tmp_path)
    vae = pathlib.Path(paths.model_dir("VAE"))
    _touch(vae / "a.pt")
    registry.refresh()
    live = registry.vae_dict
    _touch(vae / "anything-v3.vae.pt")
    (vae / "a.pt").unlink()
    registry.refresh()
    assert live is registry.vae_dict and list(live) == ["anything-v3.vae.pt"]
    assert registry.find_near_checkpoint("/x/anything-v3.safetensors") == str(vae / "anything-v3.vae.pt")
    assert registry.find_near_checkpoint("/x/other.ckpt") is None
