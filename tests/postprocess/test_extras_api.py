"""``/sdapi/v1/extra-single-image`` and ``extra-batch-images`` through FastAPI's TestClient, against A1111's answers."""
from __future__ import annotations

import base64
import io
import os

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image, PngImagePlugin

from modules.postprocess import extras_ops, spandrel_loader
from tests.postprocess import tiny_models
from tests.postprocess.test_face_restoration import FixedDetector, face_at


def png_b64(image: Image.Image, parameters: str | None = None) -> str:
    info = PngImagePlugin.PngInfo()
    if parameters:
        info.add_text("parameters", parameters)
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info)
    return base64.b64encode(buf.getvalue()).decode()


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def source(w: int = 40, h: int = 32) -> Image.Image:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    arr = np.stack([x / w * 255, y / h * 255, 128 + 50 * np.sin(x / 3)], axis=2)
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


@pytest.fixture
def client(started, data_dir, restore_shared):
    """An app with the API and the extras routes; a tiny 4x ESRGAN and a tiny GFPGAN on disk; a fixed face detector."""
    from modules.api import routes_extras
    from modules.api.api import Api

    spandrel_loader.model_cache.drop()
    extras_ops.clear_upscale_cache()
    tiny_models.esrgan_old_arch(str(data_dir / "models" / "ESRGAN" / "4x_tiny.pth"))
    tiny_models.gfpgan(str(data_dir / "models" / "GFPGAN" / "GFPGANv1.4.pth"))
    started("--nowebui", "--skip-load-model-at-start")
    detector = FixedDetector(face_at(20, 16, 40))
    restore_shared.face_restorers.find("GFPGAN").detector = detector
    app = FastAPI()
    api = Api(app)
    routes_extras.register(api)
    test_client = TestClient(app)
    test_client.detector = detector
    yield test_client
    spandrel_loader.model_cache.drop()
    extras_ops.clear_upscale_cache()


def single(client: TestClient, **body):
    return client.post("/sdapi/v1/extra-single-image", json=body)


def test_lanczos_by_two_keeps_parameters_and_writes_postprocessing(client):
    r = single(client, image=png_b64(source(), "a cat\nSteps: 20"), upscaler_1="Lanczos", upscaling_resize=2)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"html_info", "image"}
    assert body["html_info"] == "<p>Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos</p>"
    out = decode(body["image"])
    assert out.size == (80, 64)
    assert out.info["parameters"] == "a cat\nSteps: 20"
    assert out.info["postprocessing"] == "Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos"
    assert "extras" not in out.info  # only a saved file gets the extras chunk


def test_defaults_are_a1111s(client):
    r = single(client, image=png_b64(source()))  # upscaler_1 "None": nothing happens
    assert r.status_code == 200 and r.json()["html_info"] == "<p></p>"
    assert decode(r.json()["image"]).size == (40, 32)
    r = single(client, image=png_b64(source()), upscaler_1="Lanczos")  # default factor 2, not validated: int
    assert r.json()["html_info"] == "<p>Postprocess upscale by: 2, Postprocess upscaler: Lanczos</p>"


def test_model_upscaler_then_lanczos_to_exact_size(client):
    data_url = "data:image/png;base64," + png_b64(source())
    r = single(client, image=data_url, upscaler_1="4x_tiny", upscaling_resize=2.5)
    assert r.status_code == 200, r.text
    assert decode(r.json()["image"]).size == (96, 80)  # floor(100/8)*8 x 80, after one 4x pass
    assert r.json()["html_info"] == "<p>Postprocess upscale by: 2.5, Postprocess upscaler: 4x_tiny</p>"


def test_upscale_blend_then_face_restoration_in_a1111_order(client):
    r = single(client, image=png_b64(source()), upscaler_1="Lanczos", upscaler_2="4x_tiny",
               extras_upscaler_2_visibility=0.5, upscaling_resize=2, gfpgan_visibility=1, codeformer_visibility=0)
    assert r.status_code == 200, r.text
    assert r.json()["html_info"] == ("<p>Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos, "
                                     "Postprocess upscaler 2: 4x_tiny, GFPGAN visibility: 1.0</p>")
    assert client.detector.calls == [(64, 80, 3)]  # faces looked for in the upscaled picture
    out = np.asarray(decode(r.json()["image"]))
    lanczos = np.asarray(source().resize((80, 64), Image.Resampling.LANCZOS)).astype(int)
    assert out.shape == (64, 80, 3) and np.abs(out.astype(int) - lanczos).mean() > 1


def test_operation_order_setting_runs_faces_first(client, restore_shared):
    restore_shared.opts.set("postprocessing_operation_order", ["GFPGAN", "Upscale"])
    r = single(client, image=png_b64(source()), upscaler_1="Lanczos", upscaling_resize=2, gfpgan_visibility=0.5)
    assert r.status_code == 200, r.text
    assert r.json()["html_info"] == "<p>GFPGAN visibility: 0.5, Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos</p>"
    assert client.detector.calls == [(32, 40, 3)]


def test_scale_to_with_crop_and_max_side_length(client):
    r = single(client, image=png_b64(source()), upscaler_1="Lanczos", resize_mode=1, upscaling_resize_w=100,
               upscaling_resize_h=50, upscaling_crop=True)
    assert decode(r.json()["image"]).size == (100, 50)
    assert r.json()["html_info"] == ("<p>Postprocess upscale to: 100x50, Postprocess crop to: 100x50, "
                                     "Postprocess upscaler: Lanczos</p>")
    r = single(client, image=png_b64(source()), upscaler_1="Lanczos", upscaling_resize=4, upscaling_max_side_length=100)
    assert decode(r.json()["image"]).size == (96, 80)
    assert r.json()["html_info"] == ("<p>Postprocess upscale by: 4.0, Max side length: 100, "
                                     "Postprocess upscaler: Lanczos</p>")


def test_batch_images(client):
    r = client.post("/sdapi/v1/extra-batch-images", json={
        "imageList": [{"data": png_b64(source()), "name": "a.png"}, {"data": png_b64(source(20, 24)), "name": "b.png"}],
        "upscaler_1": "Nearest", "upscaling_resize": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"html_info", "images"}
    assert [decode(b).size for b in body["images"]] == [(120, 96), (56, 72)]
    assert body["html_info"] == "<p>Postprocess upscale by: 3.0, Postprocess upscaler: Nearest</p>"


def test_errors_are_4xx_naming_the_problem(client, data_dir):
    r = single(client, image=png_b64(source()), upscaler_1="No Such Upscaler")
    assert r.status_code == 422 and "No Such Upscaler" in r.json()["detail"]
    r = client.post("/sdapi/v1/extra-batch-images", json={"imageList": [], "upscaler_2": "Nope"})
    assert r.status_code == 422 and "Nope" in r.json()["detail"]
    r = single(client, image="not an image at all", upscaler_1="Lanczos")
    assert r.status_code == 422 and "invalid encoded image" in r.json()["detail"].lower()
    r = single(client, image=png_b64(source()), upscaler_1="R-ESRGAN 4x+")
    assert r.status_code == 404
    assert "RealESRGAN_x4plus.pth" in r.json()["detail"] and "RealESRGAN" in r.json()["detail"]
    r = single(client, image=png_b64(source()), gfpgan_visibility=1.5)
    assert r.status_code == 422  # out of range, rejected by the request model
    os.remove(data_dir / "models" / "GFPGAN" / "GFPGANv1.4.pth")
    spandrel_loader.model_cache.drop()
    r = single(client, image=png_b64(source()), gfpgan_visibility=1)
    assert r.status_code == 404 and "GFPGANv1.4.pth" in r.json()["detail"]
