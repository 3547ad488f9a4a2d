"""Model upscalers really run: each architecture, written with random weights here, is detected and upscales."""
from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch
from PIL import Image

from modules.core.cmd_args import build_parser
from modules.core.options.catalogue import build_catalogue
from modules.core.options.store import Options
from modules.core.paths import resolve_path_flags
from modules.postprocess import spandrel_loader, tiling
from modules.postprocess.upscaler import UpscalerUnavailable
from modules.postprocess.upscaler_registry import UpscalerRegistry
from tests.postprocess import tiny_models


@pytest.fixture
def env(tmp_path, restore_shared):
    """A data dir, its options and flags on ``modules.shared``; the model cache is emptied before and after."""
    spandrel_loader.model_cache.drop()

    def make(*flags: str) -> tuple[UpscalerRegistry, object]:
        cmd_opts = build_parser().parse_args(["--data-dir", str(tmp_path), *flags])
        restore_shared.cmd_opts = cmd_opts
        restore_shared.paths = resolve_path_flags(cmd_opts)
        restore_shared.opts = Options(build_catalogue())
        restore_shared.state = None
        return UpscalerRegistry(cmd_opts), restore_shared.paths

    yield make
    spandrel_loader.model_cache.drop()


def gradient(w: int, h: int) -> Image.Image:
    """A smooth picture (random noise would make every tile seam look large)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    arr = np.stack([x / w * 255, y / h * 255, (x + y) / (w + h) * 200 + 30 * np.sin(x / 5)], axis=2)
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


ARCHITECTURES = [
    # (builder, folder, file name, listed name, spandrel id, scale)
    (tiny_models.esrgan_old_arch, "ESRGAN", "4x_tiny.pth", "4x_tiny", "ESRGAN", 4),
    (tiny_models.realesrgan_new_arch, "RealESRGAN", "RealESRGAN_x4plus.pth", "R-ESRGAN 4x+", "ESRGAN", 4),
    (tiny_models.compact, "RealESRGAN", "realesr-general-x4v3.pth", "R-ESRGAN General 4xV3", "Compact", 4),
    (tiny_models.swinir, "ESRGAN", "2x_swin.safetensors", "2x_swin", "SwinIR", 2),
    (tiny_models.dat, "DAT", "DAT_x2.pth", "DAT x2", "DAT", 2),
]


@pytest.mark.parametrize("build,folder,file_name,name,arch,scale", ARCHITECTURES, ids=[a[4] + "-" + a[3] for a in ARCHITECTURES])
def test_architecture_detected_and_upscales_by_its_scale(env, build, folder, file_name, name, arch, scale, caplog):
    reg, paths = env()
    build(os.path.join(paths.model_dir(folder), file_name))
    import modules.shared as shared

    shared.opts.set("realesrgan_enabled_models", ["R-ESRGAN 4x+", "R-ESRGAN General 4xV3"])
    reg.refresh()
    data = reg.find(name)
    assert data is not None and data.data_path == os.path.join(paths.model_dir(folder), file_name)

    img = gradient(24, 16)
    with caplog.at_level(logging.WARNING):
        model = data.scaler.load_model(data.data_path)
        out = data.scaler.upscale(img, scale, data.data_path)
    assert model.architecture.id == arch and model.scale == scale
    assert out.size == (24 * scale, 16 * scale)
    assert np.asarray(out).std() > 1  # the network ran: not a blank picture
    if arch in ("SwinIR", "Compact"):
        # a file whose architecture differs from its folder's family still runs, with a warning
        assert "is not a" in caplog.text
    # loaded once: the second call reuses the cached model
    assert data.scaler.load_model(data.data_path) is model


def test_untiled_pass_is_spandrels_call_on_bgr(env):
    reg, paths = env()
    path = tiny_models.esrgan_old_arch(os.path.join(paths.model_dir("ESRGAN"), "4x_a.pth"))
    model = spandrel_loader.model_cache.get(path, device="cpu")
    img = gradient(20, 12)
    ours = np.asarray(tiling.upscale_with_model(model, img, tile_size=0))
    x = torch.from_numpy(np.asarray(img)[:, :, ::-1].copy()).permute(2, 0, 1)[None].float() / 255
    theirs = (model(x)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)[:, :, ::-1]
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("build,tile_key,overlap_key", [
    (tiny_models.esrgan_old_arch, "ESRGAN_tile", "ESRGAN_tile_overlap"),
    (tiny_models.compact, "ESRGAN_tile", "ESRGAN_tile_overlap"),
    (tiny_models.dat, "DAT_tile", "DAT_tile_overlap"),
])
def test_tiled_and_untiled_agree(env, build, tile_key, overlap_key):
    import modules.shared as shared

    reg, paths = env()
    folder = "DAT" if tile_key == "DAT_tile" else "ESRGAN"
    build(os.path.join(paths.model_dir(folder), "2x_t.pth" if folder == "DAT" else "4x_t.pth"))
    reg.refresh()
    data = reg.find("2x_t" if folder == "DAT" else "4x_t")
    img = gradient(72, 52)

    shared.opts.set(tile_key, 0)
    whole = np.asarray(data.scaler.do_upscale(img, data.data_path)).astype(np.float32)
    shared.opts.set(tile_key, 48 if folder == "DAT" else 32)
    shared.opts.set(overlap_key, 16)
    tiled = np.asarray(data.scaler.do_upscale(img, data.data_path)).astype(np.float32)
    assert tiled.shape == whole.shape
    diff = np.abs(tiled - whole)
    # DAT's channel attention pools over the whole tile, so its tiles differ more than convolutions' do
    limit = 8.0 if folder == "DAT" else 1.5
    assert diff.mean() < limit, diff.mean()
    assert np.median(diff) <= 1


def test_grid_covers_picture_with_tiles_no_larger_than_asked():
    img = gradient(100, 70)
    grid = tiling.split_grid(img, 48, 48, 8)
    assert grid.tile_w <= 48 and grid.tile_h <= 48
    xs = [x for x, _, _ in grid.tiles[0][2]]
    assert xs[0] == 0 and xs[-1] + grid.tile_w == 100
    assert all(b - a <= grid.tile_w - 8 for a, b in zip(xs, xs[1:]))  # neighbours overlap by at least 8
    # identity "model": the blended result is the picture itself
    assert np.array_equal(np.asarray(tiling.combine_grid(grid)), np.asarray(img))


def test_missing_named_model_names_file_and_folder(env):
    reg, paths = env()
    reg.refresh()
    data = reg.find("DAT x4")
    with pytest.raises(UpscalerUnavailable, match=r"DAT_x4\.pth.*" + os.path.basename(paths.model_dir("DAT"))):
        data.scaler.upscale(gradient(8, 8), 4, data.data_path)


def test_named_model_added_after_start_is_found(env):
    reg, paths = env()
    reg.refresh()
    data = reg.find("R-ESRGAN 4x+")
    assert data.data_path.startswith("https://")
    tiny_models.realesrgan_new_arch(os.path.join(paths.model_dir("RealESRGAN"), "RealESRGAN_x4plus.pth"))
    assert data.scaler.upscale(gradient(8, 8), 4, data.data_path).size == (32, 32)


def test_unsafe_pickle_is_refused(env, tmp_path):
    reg, paths = env()
    path = os.path.join(paths.model_dir("ESRGAN"), "4x_evil.pth")
    os.makedirs(os.path.dirname(path))

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo should-not-run",))

    torch.save({"model.0.weight": Payload()}, path)
    reg.refresh()
    data = reg.find("4x_evil")
    with pytest.raises(UpscalerUnavailable, match="cannot be loaded safely"):
        data.scaler.upscale(gradient(8, 8), 4, data.data_path)


def test_use_cpu_and_half_rules(env):
    env("--use-cpu", "esrgan")
    assert spandrel_loader.default_device("esrgan").type == "cpu"
    assert spandrel_loader.half_allowed()
    env("--no-half")
    assert not spandrel_loader.half_allowed()
    env("--upcast-sampling")
    assert not spandrel_loader.half_allowed()


def test_scale_one_runs_model_once(env):
    reg, paths = env()
    tiny_models.compact(os.path.join(paths.model_dir("ESRGAN"), "4x_c.pth"))
    reg.refresh()
    data = reg.find("4x_c")
    calls = []
    real = data.scaler.do_upscale

    def counting(img, selected):
        calls.append(img.size)
        return real(img, selected)

    data.scaler.do_upscale = counting
    assert data.scaler.upscale(gradient(16, 16), 1, data.data_path).size == (16, 16)
    assert calls == [(16, 16)]
    calls.clear()
    assert data.scaler.upscale(gradient(16, 16), 8, data.data_path).size == (128, 128)
    assert calls == [(16, 16), (64, 64)]  # 4x twice, then Lanczos down to 8x
