"""The outpainting scripts and img2img alternative test through the HTTP API, and the script lists of
``/sdapi/v1/scripts`` / ``/sdapi/v1/script-info`` against A1111's answers."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from tests.reference_answers import RESPONSES

REFERENCE = Path(RESPONSES)
NEW_SCRIPTS = ("outpainting mk2", "poor man's outpainting", "img2img alternative test")
BUILTIN_UI = ("sampler", "seed")
"""Built-in UI scripts whose arguments match A1111's exactly (the refiner's checkpoint choices are the install's)."""


def _picture(size: int = 64) -> Image.Image:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.Resampling.NEAREST)


def _b64(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _decode(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB")


def _client(app) -> TestClient:
    shared = app("sd1", "--api")
    from modules.app_server import create_app

    return TestClient(create_app(shared.cmd_opts, with_ui=False))


def _reference(name: str):
    return json.loads((REFERENCE / name).read_text())["body"]


def test_script_lists_match_a1111(app):
    client = _client(app)
    listed = client.get("/sdapi/v1/scripts").json()
    reference = _reference("scripts.json")
    for tab in ("txt2img", "img2img"):
        assert listed[tab] == reference[tab], tab

    infos = {(s["name"], s["is_img2img"]): s for s in client.get("/sdapi/v1/script-info").json()}
    for expected in _reference("script-info.json"):
        if expected["name"] in NEW_SCRIPTS:
            ours = infos[(expected["name"], True)]
            assert ours["is_alwayson"] is False and len(ours["args"]) == len(expected["args"])
            for arg, expected_arg in zip(ours["args"], expected["args"]):
                assert arg == expected_arg, expected["name"]
            assert (expected["name"], False) not in infos  # img2img only
        if expected["name"] in BUILTIN_UI:
            ours = infos[(expected["name"], expected["is_img2img"])]
            assert ours == expected, expected["name"]
        if expected["name"] == "refiner":
            ours = infos[("refiner", expected["is_img2img"])]
            assert [(a["label"], a["value"]) for a in ours["args"]] == \
                [(a["label"], a["value"]) for a in expected["args"]]


def test_outpainting_mk2_through_the_api(app):
    init = _picture()
    body = {"init_images": [_b64(init)], "prompt": "a cat", "steps": 2, "width": 64, "height": 64, "seed": 3,
            "denoising_strength": 0.7, "script_name": "outpainting mk2",
            "script_args": [None, 64, 4, ["right"], 1.0, 0.05]}
    r = _client(app).post("/sdapi/v1/img2img", json=body)
    assert r.status_code == 200, r.text
    images = [_decode(x) for x in r.json()["images"]]
    assert [im.size for im in images] == [(128, 64)]
    out = np.asarray(images[0])
    # the generated strip is the 64 columns at the new edge; the rest, less the 4-px noise margin, is the original
    assert np.array_equal(out[:, :60], np.asarray(init)[:, :60])
    assert out[:, 64:].std() > 1
    info = json.loads(r.json()["info"])
    assert info["seed"] == 3 and "Denoising strength: 0.7" in info["infotexts"][0]


def test_poor_mans_outpainting_through_the_api(app):
    init = _picture()
    body = {"init_images": [_b64(init)], "prompt": "a cat", "steps": 2, "width": 64, "height": 64, "seed": 3,
            "denoising_strength": 0.7, "script_name": "poor man's outpainting",
            "script_args": [32, 4, "fill", ["left", "right", "up", "down"]]}
    r = _client(app).post("/sdapi/v1/img2img", json=body)
    assert r.status_code == 200, r.text
    images = [_decode(x) for x in r.json()["images"]]
    assert [im.size for im in images] == [(128, 128)]
    out = np.asarray(images[0])
    # the tile wholly inside the original (32..96) is never processed; mask blur reaches 8 + 20 px into it
    assert np.array_equal(out[60:68, 60:68], np.asarray(init)[28:36, 28:36])
    infotext = json.loads(r.json()["info"])["infotexts"][0]
    assert "Mask blur: 8" in infotext and "Masked content: fill" in infotext

    body["script_args"] = [32, 4, "smudge", ["left"]]
    r = _client(app).post("/sdapi/v1/img2img", json=body)
    assert r.status_code == 422 and "smudge" in r.text


def test_img2img_alternative_test_through_the_api(app):
    body = {"init_images": [_b64(_picture())], "prompt": "ignored", "steps": 20, "width": 64, "height": 64,
            "seed": 3, "sampler_name": "DDIM", "denoising_strength": 0.3, "script_name": "img2img alternative test",
            "script_args": [None, True, True, "a dog", "blurry", True, 3, True, 1.5, 0.25, False]}
    r = _client(app).post("/sdapi/v1/img2img", json=body)
    assert r.status_code == 200, r.text
    info = json.loads(r.json()["info"])
    text = info["infotexts"][0]
    assert text.startswith("a dog\nNegative prompt: blurry\n")
    for part in ("Steps: 3,", "Sampler: Euler,", "Denoising strength: 1.0", "Decode prompt: a dog",
                 "Decode negative prompt: blurry", "Decode CFG scale: 1.5", "Decode steps: 3", "Randomness: 0.25",
                 "Sigma Adjustment: False"):
        assert part in text, (part, text)
    assert _decode(r.json()["images"][0]).size == (64, 64)
