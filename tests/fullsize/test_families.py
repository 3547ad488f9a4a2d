"""Every other family at full size through the real start-up and the HTTP API: SD1.5-inpainting, SD2-v, SDXL + refiner.

Each server loads its family's full-size checkpoint (seeded random weights in the real key layout) at
start, answers txt2img with an empty negative prompt (the case that made NaN), and what the family is for
(inpainting, img2img, the SDXL refiner switch); the infotext names the file and its sha256 short hash.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.fullsize.conftest import FAMILIES, fullsize_server, heavy

pytestmark = pytest.mark.slow
FAMILIES_USED = ("sd15-inpainting", "sd2v")
HEAVY_FAMILIES_USED = ("sdxl", "sdxl-refiner")

REQUEST = {"prompt": "a photo of a cat", "negative_prompt": "", "steps": 3, "width": 64, "height": 64,
           "sampler_name": "Euler a", "seed": 1234, "cfg_scale": 7}


def picture(b64: str) -> np.ndarray:
    array = np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"), dtype=np.float64)
    assert np.isfinite(array).all() and array.std() > 0, "a flat picture"
    return array


def png_b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def short_hash(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()[:10]


def generate(client, route: str, body: dict) -> tuple[np.ndarray, str]:
    response = client.post(route, json=body)
    assert response.status_code == 200, response.text[:500]
    answer = response.json()
    return picture(answer["images"][0]), json.loads(answer["info"])["infotexts"][0]


def assert_names_the_file(infotext: str, fullsize, family: str) -> None:
    stem = FAMILIES[family].stem
    assert f"Model hash: {short_hash(fullsize.path(family))}, Model: {stem}" in infotext


def init_and_mask() -> tuple[str, str]:
    rng = np.random.default_rng(0)
    init = Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).resize((64, 64), Image.Resampling.BICUBIC)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    return png_b64(init), png_b64(mask)


def test_sd15_inpainting(fullsize, tmp_path):
    with fullsize_server(fullsize, ("sd15-inpainting",), tmp_path) as client:
        _, infotext = generate(client, "/sdapi/v1/txt2img", REQUEST)
        assert_names_the_file(infotext, fullsize, "sd15-inpainting")
        init, mask = init_and_mask()
        out, infotext = generate(client, "/sdapi/v1/img2img", {**REQUEST, "init_images": [init], "mask": mask,
                                                               "denoising_strength": 0.75, "mask_blur": 0,
                                                               "inpainting_fill": 1})
        original = np.asarray(Image.open(io.BytesIO(base64.b64decode(init))).convert("RGB"), dtype=np.float64)
        assert np.array_equal(out[:8], original[:8]), "the unmasked area must be kept"
        assert_names_the_file(infotext, fullsize, "sd15-inpainting")


def test_sd2_v_prediction_with_its_yaml(fullsize, tmp_path):
    with fullsize_server(fullsize, ("sd2v",), tmp_path) as client:
        _, infotext = generate(client, "/sdapi/v1/txt2img", REQUEST)
        assert_names_the_file(infotext, fullsize, "sd2v")
        init, _mask = init_and_mask()
        _, infotext = generate(client, "/sdapi/v1/img2img", {**REQUEST, "init_images": [init],
                                                             "denoising_strength": 0.5})
        assert "Denoising strength: 0.5" in infotext


@heavy
def test_sdxl_base_and_the_refiner(fullsize, tmp_path):
    fullsize.path("sdxl-refiner")  # written before the base is loaded: the generator needs ~10 GB itself
    with fullsize_server(fullsize, ("sdxl", "sdxl-refiner"), tmp_path) as client:
        _, infotext = generate(client, "/sdapi/v1/txt2img", REQUEST)
        assert_names_the_file(infotext, fullsize, "sdxl")

        _, infotext = generate(client, "/sdapi/v1/txt2img", {**REQUEST, "refiner_checkpoint": "random-sdxl-refiner",
                                                             "refiner_switch_at": 0.5})
        assert_names_the_file(infotext, fullsize, "sdxl")
        assert f"Refiner: random-sdxl-refiner [{short_hash(fullsize.path('sdxl-refiner'))}]" in infotext
        assert "Refiner switch at: 0.5" in infotext

        # the refiner on its own (what it is for: img2img), then the base again
        assert client.post("/sdapi/v1/options", json={"sd_model_checkpoint": "random-sdxl-refiner"}).status_code == 200
        init, _mask = init_and_mask()
        _, infotext = generate(client, "/sdapi/v1/img2img", {**REQUEST, "init_images": [init],
                                                             "denoising_strength": 0.3})
        assert_names_the_file(infotext, fullsize, "sdxl-refiner")
