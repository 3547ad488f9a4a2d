"""Upscaler list as A1111 builds it; None, Lanczos and Nearest really upscale."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from modules.core.cmd_args import build_parser
from modules.core.options.catalogue import build_catalogue
from modules.core.options.store import Options
from modules.core.paths import resolve_path_flags
from modules.postprocess.face_restoration import FaceRestorationUnavailable, FaceRestorerRegistry
from modules.postprocess.model_upscalers import scale_from_name
from modules.postprocess.upscaler import Upscaler, UpscalerData, UpscalerUnavailable
from modules.postprocess.upscaler_registry import LATENT_UPSCALE_MODES, UpscalerRegistry, flag_for_upscaler_class

from tests.reference_answers import RESPONSES
# A1111 1.10.1's LDSR entry (a latent-diffusion upscaler from its LDSR built-in extension) is not built here.
FROM_BUILTIN_EXTENSIONS = {"LDSR"}


@pytest.fixture
def registry(tmp_path, restore_shared):
    cmd_opts = build_parser().parse_args(["--data-dir", str(tmp_path)])
    restore_shared.paths = resolve_path_flags(cmd_opts)
    restore_shared.opts = Options(build_catalogue())
    reg = UpscalerRegistry(cmd_opts)
    return reg, restore_shared.paths


def test_builtin_list_matches_a1111(registry):
    reg, _ = registry
    reg.refresh()
    path = os.path.join(RESPONSES, "upscalers.json")
    if not os.path.exists(path):
        pytest.skip("no reference answers")
    with open(path) as f:
        theirs = [u for u in json.load(f)["body"] if u["name"] not in FROM_BUILTIN_EXTENSIONS]
    assert reg.as_api_list() == theirs


def test_local_model_files_listed_sorted_after_the_three(registry):
    reg, paths = registry
    os.makedirs(paths.model_dir("ESRGAN"))
    for name in ("4x-UltraSharp.pth", "2x_foo.safetensors", "notes.txt"):
        open(os.path.join(paths.model_dir("ESRGAN"), name), "wb").close()
    os.makedirs(paths.model_dir("DAT"))
    open(os.path.join(paths.model_dir("DAT"), "DAT_x3.pth"), "wb").close()
    reg.refresh()
    names = reg.names()
    assert names[:3] == ["None", "Lanczos", "Nearest"]
    assert names[3:] == sorted(names[3:], key=str.lower)
    assert "4x-UltraSharp" in names and "2x_foo" in names and "ESRGAN_4x" not in names
    assert reg.find("2x_foo").scale == 2
    dat = reg.find("DAT x3")
    assert dat.data_path == os.path.join(paths.model_dir("DAT"), "DAT_x3.pth")  # local copy used


def test_lanczos_and_nearest_upscale_to_multiple_of_8(registry):
    reg, _ = registry
    reg.refresh()
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (21, 30, 3), dtype=np.uint8))
    for name in ("Lanczos", "Nearest"):
        data = reg.find(name)
        out = data.scaler.upscale(img, 2.5, data.data_path)
        assert out.size == (72, 48)  # floor(75/8)*8, floor(52.5/8)*8
    nearest = reg.find("Nearest")
    small = img.crop((0, 0, 24, 16))
    out = nearest.scaler.upscale(small, 2, None)
    assert np.array_equal(np.asarray(out), np.asarray(small).repeat(2, 0).repeat(2, 1))
    none = reg.find("None")
    assert none.scaler.upscale(img, 1, None).size == (24, 16)


def test_missing_builtin_model_names_the_folder(registry):
    reg, paths = registry
    reg.refresh()
    data = reg.find("R-ESRGAN 4x+")
    with pytest.raises(UpscalerUnavailable, match="RealESRGAN_x4plus.pth.*RealESRGAN"):
        data.scaler.upscale(Image.new("RGB", (8, 8)), 4, data.data_path)


def test_extension_subclass_is_listed_and_broken_one_reported(registry):
    reg, _ = registry

    class UpscalerMine(Upscaler):
        def __init__(self, dirname):
            self.name = "Mine"
            super().__init__()
            self.scalers = [UpscalerData("Mine 3x", None, self, 3)]

        def do_upscale(self, img, selected_model):
            return img.resize((img.width * 3, img.height * 3))

    class UpscalerBroken(Upscaler):
        def __init__(self, dirname):
            raise RuntimeError("boom")

    reg.refresh()
    assert "Mine 3x" in reg.names()
    assert any("UpscalerBroken" in e for e in reg.errors)
    assert flag_for_upscaler_class(UpscalerMine) == "mine_models_path"
    del UpscalerMine, UpscalerBroken
    import gc

    gc.collect()


@pytest.mark.parametrize("name,scale", [("4x-UltraSharp", 4), ("RealESRGAN_x2plus", 2), ("ESRGAN_4x", 4),
                                        ("DAT_x3", 3), ("plain", 4)])
def test_scale_from_name(name, scale):
    assert scale_from_name(name) == scale


def test_latent_modes_match_a1111():
    path = os.path.join(RESPONSES, "latent-upscale-modes.json")
    if not os.path.exists(path):
        pytest.skip("no reference answers")
    with open(path) as f:
        assert [{"name": n} for n in LATENT_UPSCALE_MODES] == json.load(f)["body"]


def test_face_restorers(tmp_path):
    reg = FaceRestorerRegistry()
    reg.setup_builtin(str(tmp_path / "Codeformer"), str(tmp_path / "GFPGAN"))
    assert reg.as_api_list() == [{"name": "CodeFormer", "cmd_dir": None}, {"name": "GFPGAN", "cmd_dir": None}]
    with pytest.raises(FaceRestorationUnavailable, match="codeformer-v0.1.0.pth.*Codeformer"):
        reg.find("CodeFormer").restore(np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "GFPGAN").mkdir()
    (tmp_path / "GFPGAN" / "GFPGANv1.4.pth").write_bytes(b"x")
    assert reg.find("GFPGAN").model_files() == [str(tmp_path / "GFPGAN" / "GFPGANv1.4.pth")]
