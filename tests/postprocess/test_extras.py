"""The Extras job: saving with A1111's names and PNG chunks, batch from a directory, the upscale cache."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from modules.postprocess import extras_ops
from modules.processing.extras_run import ExtrasInputError, image_changed, run_extras, run_postprocessing


def source(w: int = 24, h: int = 16, shade: int = 0) -> Image.Image:
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([x * 9 % 256, y * 13 % 256, np.full_like(x, shade)], axis=2)
    return Image.fromarray(arr.astype(np.uint8))


def with_parameters(image: Image.Image, path: str, text: str) -> str:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    image.save(path, pnginfo=info)
    return path


@pytest.fixture
def app(started, data_dir):
    extras_ops.clear_upscale_cache()
    started("--nowebui", "--skip-load-model-at-start")
    yield data_dir
    extras_ops.clear_upscale_cache()


def lanczos(by: float = 2, **more) -> dict:
    upscale = {"upscale_enabled": True, "upscale_mode": 0, "upscale_by": by, "max_side_length": 0,
               "upscale_to_width": 512, "upscale_to_height": 512, "upscale_crop": True,
               "upscaler_1_name": "Lanczos", "upscaler_2_name": "None", "upscaler_2_visibility": 0}
    upscale.update(more)
    return {"Upscale": upscale}


def test_single_image_saved_counter_only_with_chunks(app, tmp_path):
    path = with_parameters(source(), str(tmp_path / "in.png"), "a dog\nSteps: 5")
    image = Image.open(path)
    outputs, html_info, _ = run_postprocessing(0, image, None, "", "", True, lanczos(2))
    assert [o.size for o in outputs] == [(48, 32)]
    assert html_info == "<p>Postprocess upscale by: 2, Postprocess upscaler: Lanczos</p>"
    folder = app / "outputs" / "extras-images"
    assert sorted(os.listdir(folder)) == ["00000.png"]  # no date folder, no decoration
    saved = Image.open(folder / "00000.png")
    assert saved.info["parameters"] == "a dog\nSteps: 5"
    assert saved.info["extras"] == "Postprocess upscale by: 2, Postprocess upscaler: Lanczos"
    assert saved.info["postprocessing"] == saved.info["extras"]
    run_postprocessing(0, source(), None, "", "", True, lanczos(2))
    assert sorted(os.listdir(folder)) == ["00000.png", "00001.png"]


def test_positional_ui_arguments_map_to_operations(app):
    upscale = list(lanczos(3)["Upscale"].values())
    outputs, html_info, _ = run_postprocessing(0, source(), None, "", "", True, *upscale, False, 0.0, False, 0.0, 0.0,
                                               save_output=False)
    assert outputs[0].size == (72, 48) and "upscale by: 3" in html_info


def test_batch_from_directory_uses_original_names(app, tmp_path, restore_shared):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    source().save(src / "b.png")
    source(shade=90).save(src / "a 2.png")
    (src / "notes.txt").write_text("not a picture")
    (src / ".hidden.png").write_bytes(b"")
    outputs, _, _ = run_extras(2, 0, None, None, str(src), str(dst), False, 0, 0, 0, 2, 512, 512, True, "Nearest", "None",
                               0)
    assert outputs == []  # "show results" off
    assert sorted(os.listdir(dst)) == ["a 2.png", "b.png"]
    assert Image.open(dst / "b.png").size == (48, 32)
    outputs, _, _ = run_extras(2, 0, None, None, str(src), str(dst), True, 0, 0, 0, 2, 512, 512, True, "Nearest", "None",
                               0, save_output=False)
    assert len(outputs) == 2


def test_batch_from_directory_refused_with_hide_ui_dir_config(started, tmp_path):
    started("--nowebui", "--skip-load-model-at-start", "--hide-ui-dir-config")
    with pytest.raises(ExtrasInputError, match="hide-ui-dir-config"):
        run_extras(2, 0, None, None, str(tmp_path), "", True, 0, 0, 0, 2, 512, 512, True, "Lanczos", "None", 0)
    with pytest.raises(ExtrasInputError, match="image not selected"):
        run_extras(0, 0, None, None, "", "", True, 0, 0, 0, 2, 512, 512, True, "Lanczos", "None", 0)


def test_upscale_results_are_cached_by_picture_and_parameters(app, restore_shared):
    data = restore_shared.upscalers.find("Lanczos")
    calls = []
    real = data.scaler.upscale

    def counting(img, scale, path=None):
        calls.append(scale)
        return real(img, scale, path)

    data.scaler.upscale = counting
    try:
        image = source()
        first = run_postprocessing(0, image, None, "", "", True, lanczos(2), save_output=False)[0][0]
        again = run_postprocessing(0, image.copy(), None, "", "", True, lanczos(2), save_output=False)[0][0]
        assert calls == [2] and np.array_equal(np.asarray(first), np.asarray(again))
        run_postprocessing(0, image, None, "", "", True, lanczos(3), save_output=False)
        assert calls == [2, 3]
        restore_shared.opts.set("upscaling_max_images_in_cache", 1)
        run_postprocessing(0, source(shade=5), None, "", "", True, lanczos(2), save_output=False)
        run_postprocessing(0, image, None, "", "", True, lanczos(2), save_output=False)
        assert calls == [2, 3, 2, 2]  # evicted
        image_changed()
        run_postprocessing(0, image, None, "", "", True, lanczos(2), save_output=False)
        assert calls == [2, 3, 2, 2, 2]
    finally:
        data.scaler.upscale = real


def test_upscaler_two_blend_and_disabled_operations(app, restore_shared):
    args = lanczos(2, upscaler_2_name="Nearest", upscaler_2_visibility=0.5)
    outputs, html_info, _ = run_postprocessing(0, source(), None, "", "", True, args, save_output=False)
    lz = source().resize((48, 32), Image.Resampling.LANCZOS)
    nn = source().resize((48, 32), Image.Resampling.NEAREST)
    assert np.array_equal(np.asarray(outputs[0]), np.asarray(Image.blend(lz, nn, 0.5)))
    assert "Postprocess upscaler 2: Nearest" in html_info
    restore_shared.opts.set("postprocessing_disable_in_extras", ["Upscale"])
    outputs, html_info, _ = run_postprocessing(0, source(), None, "", "", True, args, save_output=False)
    assert outputs[0].size == (24, 16) and html_info == "<p></p>"
