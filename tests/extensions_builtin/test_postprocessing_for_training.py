"""The built-in "postprocessing-for-training" extension: its Extras operations, run as the Extras tab runs them."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from PIL import Image

from modules.postprocess import extras_ops
from modules.processing.extras_run import operations_in_preferred_order, run_postprocessing

EXTENSION = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "extensions-builtin", "postprocessing-for-training")
NAMES = ["Split oversized images", "Auto focal point crop", "Auto-sized crop", "Create flipped copies", "Caption"]


@pytest.fixture
def app(started, data_dir):
    extras_ops.clear_upscale_cache()
    started("--nowebui", "--skip-load-model-at-start")
    yield data_dir
    extras_ops.clear_upscale_cache()


@pytest.fixture
def autocrop():
    sys.path.insert(0, EXTENSION)
    try:
        import autocrop

        yield autocrop
    finally:
        sys.path.remove(EXTENSION)


def noise(w: int, h: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.RandomState(seed).randint(0, 256, (h, w, 3)).astype(np.uint8))


def scale_to(w: int, h: int) -> dict:
    """The Upscale operation with no upscaler: it only announces the target size (as A1111's "Scale to" does)."""
    return {"upscale_enabled": True, "upscale_mode": 1, "upscale_by": 1, "max_side_length": 0,
            "upscale_to_width": w, "upscale_to_height": h, "upscale_crop": False, "upscaler_1_name": "None",
            "upscaler_2_name": "None", "upscaler_2_visibility": 0}


def run(image: Image.Image, args: dict, save: bool = False) -> list[Image.Image]:
    outputs, _, _ = run_postprocessing(0, image, None, "", "", True, args, save_output=save)
    return outputs


def test_operations_load_with_a1111_names_and_order(app):
    from modules import scripts

    names = [op.name for op in operations_in_preferred_order()]
    assert names == ["Upscale", "GFPGAN", "CodeFormer", *NAMES]
    orders = {s.name: s.order for s in scripts.scripts_postproc.scripts}
    assert [orders[n] for n in NAMES] == [4000, 4010, 4020, 4030, 4040]
    assert set(NAMES) <= {s.name for s in scripts.scripts_postproc.scripts_in_preferred_order()}


def test_split_oversized_gives_overlapping_tiles_of_the_target_size(app):
    source = noise(256, 64)
    split = {"enable": True, "split_threshold": 0.5, "overlap_ratio": 0.2}
    tiles = run(source, {"Upscale": scale_to(64, 64), "Split oversized images": split}, save=True)
    # ceil((256 - 64*0.2) / (64*0.8)) = 5 tiles, spread evenly from end to end: offsets 0, 48, 96, 144, 192
    assert [t.size for t in tiles] == [(64, 64)] * 5
    for tile, x in zip(tiles, [0, 48, 96, 144, 192]):
        assert np.array_equal(np.asarray(tile), np.asarray(source)[:, x:x + 64])
    saved = sorted(os.listdir(app / "outputs" / "extras-images"))
    assert len(saved) == 5 and all(name.endswith(".png") for name in saved)

    tall = noise(64, 200, seed=1)
    tiles = run(tall, {"Upscale": scale_to(64, 64), "Split oversized images": dict(split, overlap_ratio=0.5)})
    # ceil((200 - 32) / 32) = 6 tiles, step (200 - 64) / 5 = 27.2
    assert [t.size for t in tiles] == [(64, 64)] * 6
    for tile, y in zip(tiles, [int(27.2 * i) for i in range(6)]):
        assert np.array_equal(np.asarray(tile), np.asarray(tall)[y:y + 64])


def test_split_respects_threshold_target_and_enable(app):
    source = noise(256, 64)
    split = {"enable": True, "split_threshold": 0.2, "overlap_ratio": 0.2}
    # aspect ratio against the target is 0.25: above a 0.2 threshold nothing is split
    assert [t.size for t in run(source, {"Upscale": scale_to(64, 64), "Split oversized images": split})] == [(256, 64)]
    # without a target size (no Upscale operation) there is nothing to split to
    assert len(run(source, {"Split oversized images": dict(split, split_threshold=0.5)})) == 1
    off = {"Upscale": scale_to(64, 64), "Split oversized images": dict(split, enable=False, split_threshold=0.5)}
    assert len(run(source, off)) == 1


def test_flipped_copies_are_exact_mirrors(app):
    source = noise(40, 24)
    a = np.asarray(source)
    outputs = run(source, {"Create flipped copies": {"enable": True, "option": ["Horizontal", "Vertical", "Both"]}})
    assert len(outputs) == 4
    original, horizontal, vertical, both = (np.asarray(o) for o in outputs)
    assert np.array_equal(original, a)
    assert np.array_equal(horizontal, a[:, ::-1])
    assert np.array_equal(vertical, a[::-1])
    assert np.array_equal(both, a[::-1, ::-1])
    assert len(run(source, {"Create flipped copies": {"enable": True, "option": ["Horizontal"]}})) == 2


def test_flipped_copies_are_saved_with_numbered_suffixes(app):
    run(noise(16, 16), {"Create flipped copies": {"enable": True, "option": ["Horizontal", "Vertical"]}}, save=True)
    saved = sorted(os.listdir(app / "outputs" / "extras-images"))
    assert len(saved) == 3 and len(set(saved)) == 3


def test_split_then_flip_runs_the_later_operation_on_every_tile(app):
    outputs = run(noise(256, 64), {"Upscale": scale_to(64, 64),
                                   "Split oversized images": {"enable": True, "split_threshold": 0.5,
                                                              "overlap_ratio": 0.2},
                                   "Create flipped copies": {"enable": True, "option": ["Horizontal"]}})
    assert len(outputs) == 10
    tiles = [np.asarray(o) for o in outputs]
    mirrors = [t[:, ::-1] for t in tiles[:5]]
    assert all(any(np.array_equal(m, t) for t in tiles[5:]) for m in mirrors)


@pytest.mark.parametrize("objective", ["Maximize area", "Minimize error"])
def test_auto_sized_crop_picks_a_size_within_bounds(app, objective):
    source = noise(300, 200)
    crop = {"enable": True, "mindim": 64, "maxdim": 256, "minarea": 64 * 64, "maxarea": 256 * 256,
            "objective": objective, "threshold": 0.1}
    (out,) = run(source, {"Auto-sized crop": crop})
    # only 192x128 has the 3:2 ratio within 10% among the sides 64, 128, 192, 256
    assert out.size == (192, 128)
    expected = source.resize((192, 128), Image.Resampling.LANCZOS, (0, 0, 300, 200))
    assert np.array_equal(np.asarray(out), np.asarray(expected))


def test_auto_sized_crop_objectives_and_bounds(app):
    from modules import scripts

    script = next(s for s in scripts.scripts_postproc.scripts if s.name == "Auto-sized crop")
    module = sys.modules[type(script).__module__]
    # 1000x600 (5:3), sides 384..768 in steps of 64, area up to 640*640, 10% error: 640x384 (error 0),
    # 704x384 (0.091), 704x448 (0.057), 768x448 (0.028) qualify
    assert module.choose_size(1000, 600, 384, 768, 64 * 64, 640 * 640, "Maximize area", 0.1) == (768, 448)
    assert module.choose_size(1000, 600, 384, 768, 64 * 64, 640 * 640, "Minimize error", 0.1) == (640, 384)
    assert module.choose_size(1000, 600, 384, 768, 64 * 64, 300_000, "Maximize area", 0.1) == (704, 384)
    assert module.choose_size(1000, 600, 384, 768, 64 * 64, 640 * 640, "Maximize area", 0.05) == (768, 448)
    assert module.choose_size(1000, 600, 384, 768, 64 * 64, 640 * 640, "Maximize area", 0.02) == (640, 384)
    # nothing fits: the picture is left as it was
    source = noise(300, 40)
    crop = {"enable": True, "mindim": 64, "maxdim": 128, "minarea": 64 * 64, "maxarea": 128 * 128,
            "objective": "Maximize area", "threshold": 0.1}
    (out,) = run(source, {"Auto-sized crop": crop})
    assert np.array_equal(np.asarray(out), np.asarray(source))


def bright_patch_picture(cx: int, cy: int, w: int = 256, h: int = 128, size: int = 32) -> Image.Image:
    """A dark flat picture with one bright, noisy square (the only detail in it) centred at (cx, cy)."""
    a = np.full((h, w, 3), 20, dtype=np.uint8)
    patch = np.random.RandomState(3).randint(128, 256, (size, size, 3)).astype(np.uint8)
    a[cy - size // 2:cy + size // 2, cx - size // 2:cx + size // 2] = patch
    return Image.fromarray(a)


def patch_centre(image: Image.Image) -> tuple[float, float]:
    ys, xs = np.nonzero(np.asarray(image.convert("L")) > 60)
    return (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2


@pytest.mark.parametrize("weights", [(0.0, 1.0, 0.0), (0.9, 0.15, 0.5), (0.0, 0.0, 1.0)],
                         ids=["entropy", "defaults", "edges"])
def test_focal_crop_centres_on_the_detailed_patch(app, weights):
    face, entropy, edges = weights
    source = bright_patch_picture(200, 64, w=384)
    focal = {"enable": True, "face_weight": face, "entropy_weight": entropy, "edges_weight": edges, "debug": False}
    (out,) = run(source, {"Upscale": scale_to(128, 128), "Auto focal point crop": focal})
    assert out.size == (128, 128)
    x, y = patch_centre(out)
    assert abs(x - 64) <= 6 and abs(y - 64) <= 6
    if weights == (0.0, 1.0, 0.0):  # the entropy point is the patch's centre exactly
        assert np.array_equal(np.asarray(out), np.asarray(source)[:, 136:264])


def test_focal_crop_pushes_the_crop_back_inside_and_scales_first(app):
    source = bright_patch_picture(240, 64)  # near the right edge: the crop cannot be centred there
    focal = {"enable": True, "face_weight": 0, "entropy_weight": 1.0, "edges_weight": 0.5, "debug": True}
    out, debug = run(source, {"Upscale": scale_to(128, 128), "Auto focal point crop": focal})
    assert np.array_equal(np.asarray(out), np.asarray(source)[:, 128:])
    assert debug.size == (256, 128)  # the picture at crop scale, with the crop's box drawn on it
    assert np.asarray(debug)[0, 128:].tolist() == [[0, 255, 0]] * 128  # the green box's top edge

    half = source.resize((128, 64))
    (out,) = run(half, {"Upscale": scale_to(128, 128), "Auto focal point crop": dict(focal, debug=False)})
    assert out.size == (128, 128)  # scaled up so the short side fits, then cropped
    x, _ = patch_centre(out)
    assert x > 64


def test_focal_crop_debug_picture_is_saved_with_its_name_tag(app):
    focal = {"enable": True, "face_weight": 0, "entropy_weight": 1.0, "edges_weight": 0, "debug": True}
    run(bright_patch_picture(200, 64), {"Upscale": scale_to(128, 128), "Auto focal point crop": focal,
                                        "Create flipped copies": {"enable": True, "option": ["Horizontal"]}},
        save=True)
    saved = sorted(os.listdir(app / "outputs" / "extras-images"))
    # the crop, its mirror, and the debug picture (not flipped: later operations leave it alone)
    assert len(saved) == 3
    assert sum(name.endswith("-focal-crop-debug.png") for name in saved) == 1


def test_face_detection_uses_only_what_exists_offline(app, autocrop):
    method = autocrop.face_detection_method(None)
    assert method == ("haar" if autocrop.haar_cascade_files() else None)
    assert autocrop.yunet_model_path(str(app / "models")) is None
    (app / "models" / "opencv").mkdir(parents=True)
    (app / "models" / "opencv" / "face_detection_yunet_2023mar.onnx").write_bytes(b"")
    assert autocrop.yunet_model_path(str(app / "models")).endswith("face_detection_yunet_2023mar.onnx")
    if method is None:
        # no detector: a face weight changes nothing, the entropy point alone decides
        settings = autocrop.Settings(crop_width=128, crop_height=128, face_points_weight=0.9,
                                     entropy_points_weight=1.0, corner_points_weight=0.0)
        point = autocrop.focal_point(bright_patch_picture(200, 64, w=384), settings)
        assert (point.x, point.y) == (200, 64)


def test_entropy_is_highest_on_the_detailed_window(autocrop):
    assert autocrop.image_entropy(Image.new("RGB", (32, 32), (20, 20, 20))) == 0.0
    assert autocrop.image_entropy(noise(32, 32)) > 7.0
    settings = autocrop.Settings(crop_width=64, crop_height=64)
    # windows x = 96..140 hold the whole patch (142..158): their middle, 118 + 32, is the patch's centre
    (point,) = autocrop.image_entropy_points(bright_patch_picture(150, 32, w=256, h=64, size=16), settings)
    assert (point.x, point.y) == (150, 32)
    (point,) = autocrop.image_entropy_points(
        bright_patch_picture(150, 32, w=256, h=64, size=16).transpose(Image.Transpose.TRANSPOSE), settings)
    assert (point.x, point.y) == (32, 150)
    assert autocrop.image_entropy_points(noise(64, 64), settings) == []  # square: nothing to slide


def test_caption_says_interrogators_are_missing_and_does_not_fail(app, capsys):
    caption = {"enable": True, "option": ["Deepbooru", "BLIP"]}
    outputs, _, _ = run_postprocessing(0, noise(16, 16), None, "", "", True,
                                       {"Caption": caption, "Create flipped copies": {"enable": True,
                                                                                      "option": ["Horizontal"]}})
    assert len(outputs) == 2  # the operations after it still ran
    out = capsys.readouterr().out  # no model files: each captioner says which file is missing
    assert "Caption: no Deepbooru caption: Model file model-resnet_custom_v3.pt is missing" in out
    assert "Caption: no BLIP caption: Model file model_base_caption_capfilt_large.pth is missing" in out
    folder = app / "outputs" / "extras-images"
    assert sorted(p.suffix for p in folder.iterdir()) == [".png", ".png"]  # no caption files


def test_extras_tab_builds_and_runs_the_operations(app):
    import gradio as gr

    from modules.ui import extras_tab

    with gr.Blocks() as demo:
        operations = extras_tab.create_operations()
    notes = {b.elem_id: b.value for b in demo.blocks.values() if isinstance(b, gr.Markdown) and b.elem_id}
    # what is missing offline is said in the operations' own panels
    assert notes["postprocess_caption_unavailable"].startswith("Model files to add before captioning: Deepbooru needs ")
    assert notes["postprocess_focal_crop_face_note"].startswith(("No face detector is available offline",
                                                                 "Faces are found with"))
    by_name = dict(operations)
    assert [name for name, _ in operations][-5:] == NAMES
    assert list(by_name["Split oversized images"]) == ["enable", "split_threshold", "overlap_ratio"]
    assert (by_name["Split oversized images"]["split_threshold"].value,
            by_name["Split oversized images"]["overlap_ratio"].value) == (0.5, 0.2)
    assert [by_name["Auto focal point crop"][k].value for k in ("face_weight", "entropy_weight", "edges_weight")] == [
        0.9, 0.15, 0.5]
    assert list(by_name["Auto-sized crop"]) == ["enable", "mindim", "maxdim", "minarea", "maxarea", "objective",
                                                "threshold"]
    assert by_name["Create flipped copies"]["option"].value == ["Horizontal"]
    assert by_name["Caption"]["option"].choices[0][0] == "Deepbooru"

    names = [(name, list(controls)) for name, controls in operations]
    values = {name: {k: c.value for k, c in controls.items()} for name, controls in operations}
    values["Upscale"].update(upscale_mode=1, upscale_to_width=64, upscale_to_height=64, upscaler_1_name="None")
    values["Split oversized images"]["enable"] = True
    values["Create flipped copies"]["enable"] = True
    flat = [values[name][k] for name, keys in names for k in keys]
    gallery, _, _, _ = extras_tab.run_extras("task(pft)", 0, noise(256, 64), None, "", "", True, names, *flat)
    assert len(gallery) == 10  # five tiles and their mirrors
    assert all(Image.open(item).size == (64, 64) for item in gallery)


def test_extras_api_does_not_reach_the_operations(app):
    """A1111's extras API passes only upscale and face-restoration arguments: the training operations stay off."""
    import base64
    import io

    from fastapi.testclient import TestClient

    from modules import shared
    from modules.app_server import create_app

    buf = io.BytesIO()
    noise(256, 64).save(buf, format="PNG")
    client = TestClient(create_app(shared.cmd_opts, with_ui=False))
    r = client.post("/sdapi/v1/extra-single-image", json={"image": base64.b64encode(buf.getvalue()).decode(),
                                                          "resize_mode": 1, "upscaling_resize_w": 64,
                                                          "upscaling_resize_h": 64, "upscaler_1": "None"})
    assert r.status_code == 200, r.text
    assert Image.open(io.BytesIO(base64.b64decode(r.json()["image"]))).size == (256, 64)
