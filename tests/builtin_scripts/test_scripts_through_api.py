"""Selectable scripts run through the HTTP API (``script_name`` / ``script_args``), as A1111 clients call them."""
from __future__ import annotations

import base64
import io

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image


def b64_picture(size: int = 64) -> str:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)).resize((size, size))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def decode(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def client(app) -> TestClient:
    shared = app("sd1", "--api")
    from modules.app_server import create_app

    return TestClient(create_app(shared.cmd_opts, with_ui=False))


def test_scripts_listed_by_the_api(app):
    listed = client(app).get("/sdapi/v1/scripts").json()
    assert {"x/y/z plot", "prompt matrix", "prompts from file or textbox"} <= set(listed["txt2img"])
    assert {"loopback", "sd upscale"} <= set(listed["img2img"])


def test_loopback_through_the_api(app):
    body = {"init_images": [b64_picture()], "prompt": "a cat", "steps": 2, "width": 64, "height": 64,
            "denoising_strength": 0.5, "script_name": "loopback", "script_args": [2, 0.5, "Linear", "None"]}
    r = client(app).post("/sdapi/v1/img2img", json=body)
    assert r.status_code == 200, r.text
    images = r.json()["images"]
    assert len(images) >= 2 and all(decode(i).size in ((64, 64), (128, 64)) for i in images)


def test_sd_upscale_through_the_api(app):
    body = {"init_images": [b64_picture()], "prompt": "a cat", "steps": 2, "width": 64, "height": 64,
            "denoising_strength": 0.3, "script_name": "sd upscale", "script_args": [None, 16, "Lanczos", 2.0]}
    r = client(app).post("/sdapi/v1/img2img", json=body)
    assert r.status_code == 200, r.text
    assert decode(r.json()["images"][0]).size == (128, 128)


def test_unknown_script_is_a_4xx_naming_it(app):
    r = client(app).post("/sdapi/v1/txt2img", json={"prompt": "x", "steps": 2, "width": 64, "height": 64,
                                                     "script_name": "no such script"})
    assert 400 <= r.status_code < 500 and "no such script" in r.text
