"""Face restoration end to end: random-weight GFPGAN/CodeFormer files, an injected detector, only faces change."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from modules.core.options.catalogue import build_catalogue
from modules.core.options.store import Options
from modules.postprocess import face_helper, spandrel_loader
from modules.postprocess.extras_ops import CodeFormerOperation, GFPGANOperation
from modules.scripting.postprocessing import PostprocessedImage
from modules.postprocess.face_helper import FFHQ_TEMPLATE_512, Face
from modules.postprocess.face_restoration import FaceRestorationUnavailable, FaceRestorerRegistry
from tests.postprocess import tiny_models

SIZE = 160


def picture() -> np.ndarray:
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    arr = np.stack([x / SIZE * 200 + 20, y / SIZE * 200 + 20, 128 + 60 * np.sin((x + y) / 9)], axis=2)
    return arr.clip(0, 255).astype(np.uint8)


def face_at(x0: float, y0: float, size: float) -> Face:
    """A face whose aligned 512 px square maps onto (x0, y0, x0 + size, y0 + size)."""
    landmarks = FFHQ_TEMPLATE_512 * (size / 512.0) + np.array([x0, y0])
    return Face(box=[x0, y0, x0 + size, y0 + size], landmarks=landmarks, score=0.99)


class FixedDetector:
    def __init__(self, *faces: Face) -> None:
        self.faces = list(faces)
        self.calls: list[tuple[int, ...]] = []

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        self.calls.append(rgb.shape)
        return list(self.faces)


def changed_box(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(np.any(before != after, axis=2))
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.fixture
def restorers(tmp_path, restore_shared):
    spandrel_loader.model_cache.drop()
    restore_shared.opts = Options(build_catalogue())
    restore_shared.cmd_opts = None
    reg = FaceRestorerRegistry()
    reg.setup_builtin(str(tmp_path / "Codeformer"), str(tmp_path / "GFPGAN"))
    restore_shared.face_restorers = reg
    yield reg, tmp_path
    spandrel_loader.model_cache.drop()


def test_similarity_fit_recovers_a_known_transform():
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = np.random.default_rng(0).random((5, 2)) * 100
    dst = src @ rot.T + shift
    m = face_helper.estimate_similarity(src, dst)
    assert np.allclose(m[:, :2], rot) and np.allclose(m[:, 2], shift)
    assert np.allclose(face_helper.invert_affine(m) @ np.append(dst[0], 1), src[0])


def test_identity_network_changes_the_face_little_and_nothing_else():
    img = picture()
    detector = FixedDetector(face_at(40, 30, 80))
    out = face_helper.restore_faces(img, detector, lambda t: t)
    box = changed_box(img, out)
    assert box is not None and box[0] >= 38 and box[1] >= 28 and box[2] <= 122 and box[3] <= 112
    inside = np.abs(out[40:100, 50:110].astype(int) - img[40:100, 50:110].astype(int))
    assert inside.mean() < 3  # resampled twice, truncated once


def test_failing_face_is_skipped_and_others_restored():
    img = picture()
    detector = FixedDetector(face_at(5, 5, 60), face_at(90, 90, 60))
    calls = []

    def flaky(t):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return -t  # invert colours: a visible change

    out = face_helper.restore_faces(img, detector, flaky)
    box = changed_box(img, out)
    assert len(calls) == 2 and box is not None and box[0] >= 88 and box[1] >= 88


def test_tiny_eye_distance_is_ignored():
    img = picture()
    out = face_helper.restore_faces(img, FixedDetector(face_at(10, 10, 8)), lambda t: -t)
    assert np.array_equal(out, img)


def test_gfpgan_end_to_end_only_the_detected_region_changes(restorers):
    reg, tmp = restorers
    tiny_models.gfpgan(str(tmp / "GFPGAN" / "GFPGANv1.4.pth"))
    gfpgan = reg.find("GFPGAN")
    gfpgan.detector = FixedDetector(face_at(50, 40, 70))
    img = picture()
    out = gfpgan.restore(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    box = changed_box(img, out)
    assert box is not None
    assert box[0] >= 48 and box[1] >= 38 and box[2] <= 122 and box[3] <= 112
    assert gfpgan.net.architecture.id == "GFPGAN"
    assert np.abs(out.astype(int) - img.astype(int))[55:100, 60:110].mean() > 5


def test_visibility_zero_returns_the_input_without_loading(restorers):
    reg, _ = restorers  # no model files at all: a restorer that ran would fail
    from PIL import Image

    image = Image.fromarray(picture())
    pp = PostprocessedImage(image)
    GFPGANOperation().process(pp, enable=True, gfpgan_visibility=0)
    CodeFormerOperation().process(pp, enable=True, codeformer_visibility=0, codeformer_weight=0.5)
    assert pp.image is image and pp.info == {}


def test_visibility_blends_and_records_info(restorers):
    reg, tmp = restorers
    tiny_models.gfpgan(str(tmp / "GFPGAN" / "GFPGANv1.4.pth"))
    reg.find("GFPGAN").detector = FixedDetector(face_at(50, 40, 70))
    from PIL import Image

    image = Image.fromarray(picture())
    torch.manual_seed(0)
    full = PostprocessedImage(image)
    GFPGANOperation().process(full, enable=True, gfpgan_visibility=1.0)
    torch.manual_seed(0)  # GFPGAN injects random noise, as A1111 runs it
    half = PostprocessedImage(image)
    GFPGANOperation().process(half, enable=True, gfpgan_visibility=0.5)
    expected = np.asarray(Image.blend(image, full.image, 0.5)).astype(int)
    assert np.abs(np.asarray(half.image).astype(int) - expected).max() <= 1
    assert half.info == {"GFPGAN visibility": 0.5}


def test_missing_model_and_detector_weights_name_file_and_folder(restorers):
    reg, tmp = restorers
    with pytest.raises(FaceRestorationUnavailable, match=r"codeformer-v0\.1\.0\.pth.*Codeformer"):
        reg.find("CodeFormer").restore(picture())
    tiny_models.gfpgan(str(tmp / "GFPGAN" / "GFPGANv1.4.pth"))
    with pytest.raises(FaceRestorationUnavailable, match=r"detection_Resnet50_Final\.pth.*GFPGAN"):
        reg.find("GFPGAN").restore(picture())


def test_restore_faces_in_generation_uses_settings(restorers):
    import modules.face_restoration as compat
    import modules.shared as shared

    reg, _ = restorers
    seen = {}

    class Spy:
        def restore(self, np_image, w=None):
            seen["w"] = shared.opts.code_former_weight if w is None else w
            return np_image

    reg.restorers[0].restore = Spy().restore  # CodeFormer is the default model
    shared.opts.set("code_former_weight", 0.25)
    compat.restore_faces(picture())
    assert seen == {"w": 0.25}


def test_codeformer_file_loads_and_gets_the_weight(restorers):
    """The real CodeFormer class from the file; its 20 s forward is swapped for a check of the call (see slow test)."""
    import inspect

    reg, tmp = restorers
    tiny_models.codeformer(str(tmp / "Codeformer" / "codeformer-v0.1.0.safetensors"))
    codeformer = reg.find("CodeFormer")
    codeformer.detector = FixedDetector(face_at(30, 60, 64))
    net = codeformer.load_net()
    assert net.architecture.id == "CodeFormer"
    real_forward = type(net.model).forward
    seen = {}

    def forward(x, **kwargs):
        inspect.signature(real_forward).bind(net.model, x, **kwargs)  # the call fits the real class
        seen.update(kwargs)
        return (-x, None, None)

    net.model.forward = forward
    try:
        img = picture()
        out = codeformer.restore(img, w=0.7)
        assert seen == {"weight": 0.7, "adain": True}
        box = changed_box(img, out)
        assert box is not None and box[0] >= 28 and box[1] >= 58 and box[2] <= 96 and box[3] <= 126
        import modules.shared as shared

        shared.opts.set("code_former_weight", 0.3)
        codeformer.restore(img)
        assert seen["weight"] == 0.3
    finally:
        del net.model.forward


@pytest.mark.slow
def test_codeformer_end_to_end_with_weight(restorers):
    reg, tmp = restorers
    tiny_models.codeformer(str(tmp / "Codeformer" / "codeformer-v0.1.0.safetensors"))
    codeformer = reg.find("CodeFormer")
    codeformer.detector = FixedDetector(face_at(30, 60, 64))
    seen = {}
    real = codeformer.run_net

    def spy(net, face, **kwargs):
        seen.update(kwargs)
        return real(net, face, **kwargs)

    codeformer.run_net = spy
    img = picture()
    out = codeformer.restore(img, w=0.7)
    assert seen == {"w": 0.7} and codeformer.net.architecture.id == "CodeFormer"
    box = changed_box(img, out)
    assert box is not None and box[0] >= 28 and box[1] >= 58 and box[2] <= 96 and box[3] <= 126


@pytest.mark.slow
def test_retinaface_weights_come_from_the_models_folder(restorers):
    pytest.importorskip("facexlib")
    pytest.importorskip("cv2")
    from modules.postprocess import face_detection

    reg, tmp = restorers
    tiny_models.retinaface(str(tmp / "GFPGAN" / face_detection.DETECTION_FILE))
    detector = face_detection.get_detector([str(tmp / "Codeformer"), str(tmp / "GFPGAN")])
    faces = detector(picture()[:64, :96])
    assert isinstance(faces, list)
    assert all(f.landmarks.shape == (5, 2) for f in faces)
    assert face_detection.get_detector([str(tmp / "GFPGAN")]) is detector  # built once
