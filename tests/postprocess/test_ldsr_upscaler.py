"""The built-in LDSR extension's upscaler: listed when ``models/LDSR`` has its files, run from Extras through
the API with ``ldsr_steps``, the model kept only with ``ldsr_cached``, missing files named in a 404."""
from __future__ import annotations

import base64
import io
import os

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from modules.models.tiny_factory import make_tiny_ldsr


def png_b64(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def picture() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))


@pytest.fixture
def start(started, data_dir, restore_shared):
    """Start the API (no checkpoint) after ``prepare(data_dir)``; returns (client, shared)."""
    from modules.app_server import create_app

    def run(*flags: str) -> tuple[TestClient, object]:
        started("--nowebui", "--skip-load-model-at-start", *flags)
        return TestClient(create_app(restore_shared.cmd_opts, with_ui=False)), restore_shared

    return run


def ldsr_entries(client: TestClient) -> list[dict]:
    return [u for u in client.get("/sdapi/v1/upscalers").json() if u["name"] == "LDSR"]


def test_not_listed_without_its_files(start, data_dir):
    (data_dir / "models" / "LDSR").mkdir(parents=True)
    (data_dir / "models" / "LDSR" / "project.yaml").write_text("model: {}\n")  # the YAML alone is not enough
    client, _ = start()
    assert ldsr_entries(client) == []


def test_extras_with_ldsr_through_the_api(start, data_dir):
    make_tiny_ldsr(data_dir / "models" / "LDSR")
    client, shared = start()
    assert ldsr_entries(client) == [{"name": "LDSR", "model_name": None, "model_path": None, "model_url": None,
                                     "scale": 4.0}]
    assert client.post("/sdapi/v1/options", json={"ldsr_steps": 1}).status_code == 200
    body = {"image": png_b64(picture()), "upscaling_resize": 2, "upscaler_1": "LDSR"}
    response = client.post("/sdapi/v1/extra-single-image", json=body)
    assert response.status_code == 200, response.text[:300]
    out = Image.open(io.BytesIO(base64.b64decode(response.json()["image"])))
    assert out.size == (64, 48)
    assert np.asarray(out).std() > 0

    # the files gone after listing: a 404 naming the files and the folder, and the server keeps serving
    os.remove(data_dir / "models" / "LDSR" / "model.ckpt")
    from modules.postprocess import extras_ops

    extras_ops.clear_upscale_cache()
    response = client.post("/sdapi/v1/extra-single-image", json=body)
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "model.ckpt" in detail and "project.yaml" in detail and str(data_dir / "models" / "LDSR") in detail
    assert client.get("/sdapi/v1/upscalers").status_code == 200


def test_model_path_flag_and_cache_setting(start, tmp_path, monkeypatch):
    folder = tmp_path / "elsewhere"
    make_tiny_ldsr(folder, file_name="model.safetensors")
    _client, shared = start("--ldsr-models-path", str(folder))
    scaler = shared.sd_upscalers[[u.name for u in shared.sd_upscalers].index("LDSR")].scaler
    assert scaler._files()[0] == str(folder / "model.safetensors")

    import modules.models.ldsr as ldsr

    loads = []
    real = ldsr.load_ldsr
    monkeypatch.setattr(ldsr, "load_ldsr", lambda *a, **k: loads.append(a) or real(*a, **k))
    shared.opts.ldsr_cached = False
    assert scaler.load_model() is not scaler.load_model() and len(loads) == 2
    shared.opts.ldsr_cached = True
    first = scaler.load_model()
    assert scaler.load_model() is first and len(loads) == 3
    shared.opts.ldsr_cached = False  # turned off: loaded again, the cached one let go
    assert scaler.load_model() is not first and len(loads) == 4
