"""A tiny SD1 checkpoint's UNet written to GGUF files (Q8_0 and F16, city96's layout, with the gguf package's
writer) is listed as a checkpoint and generates through ``/sdapi/v1/txt2img`` with the text encoder and VAE
of the full checkpoint picked in ``forge_additional_modules``, close to the unquantised model; without them
the request is a 422 naming what is missing and the setting; other picked files load the model again.
A Q8_0 UNet holds about half the bytes of fp16."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import torch
from fastapi.testclient import TestClient
from gguf import GGMLQuantizationType as T

from modules.app_server import create_app
from modules.models.gguf_layers import is_quantised_layer, storage_bytes
from modules.models.loader import LoadOptions, load_model
from modules.models.tiny_factory import make_tiny_checkpoint
from modules.runtime.bootstrap import initialize
from tests.api.conftest import decode, preserved_shared
from tests.models.gguf_helpers import write_unet_gguf

BODY = {"prompt": "a photo of a cat", "negative_prompt": "blurry", "steps": 4, "width": 64, "height": 64,
        "sampler_name": "Euler", "seed": 11, "cfg_scale": 6}


def _pixels(answer: dict) -> np.ndarray:
    return np.asarray(decode(answer["images"][0]).convert("RGB"), dtype=np.float64)


def test_gguf_unets_generate_through_the_api_close_to_the_unquantised_model(tmp_path):
    data_dir = tmp_path / "data"
    sd_dir = data_dir / "models" / "Stable-diffusion"
    base = make_tiny_checkpoint("sd1", sd_dir, name="base-sd1")  # sorts first: the model loaded at start
    for qtype in (T.Q8_0, T.F16):
        write_unet_gguf(base, sd_dir / f"unet-sd1-{qtype.name}.gguf", qtype)
    with preserved_shared() as shared:
        initialize(["--data-dir", str(data_dir), "--nowebui"])
        app = create_app(shared.cmd_opts, with_ui=False)
        with TestClient(app) as client:
            titles = [m["title"] for m in client.get("/sdapi/v1/sd-models").json()]
            assert [t.split(" [")[0] for t in titles] == ["base-sd1.safetensors", "unet-sd1-F16.gguf",
                                                          "unet-sd1-Q8_0.gguf"]
            reference = client.post("/sdapi/v1/txt2img", json=BODY)
            assert reference.status_code == 200, reference.text[:300]
            expected = _pixels(reference.json())

            # no text encoder / VAE picked: the clear error, and the server keeps serving
            refused = client.post("/sdapi/v1/txt2img", json=dict(
                BODY, override_settings={"sd_model_checkpoint": "unet-sd1-Q8_0"}))
            assert refused.status_code == 422
            detail = refused.text
            assert "unet-sd1-Q8_0.gguf is a GGUF file" in detail and "forge_additional_modules" in detail
            assert "the text encoder (cond_stage_model)" in detail and "the VAE (first_stage_model)" in detail

            assert client.post("/sdapi/v1/options", json={"forge_additional_modules": [str(base)]}).status_code == 200
            for name, tolerance in (("unet-sd1-Q8_0", 1.0), ("unet-sd1-F16", 0.1)):
                response = client.post("/sdapi/v1/txt2img", json=dict(
                    BODY, override_settings={"sd_model_checkpoint": name},
                    override_settings_restore_afterwards=False))
                assert response.status_code == 200, response.text[:300]
                model = shared.sd_model
                assert model.checkpoint_path.endswith(f"{name}.gguf") and model.family == "sd1"
                infotext = json.loads(response.json()["info"])["infotexts"][0]
                digest = hashlib.sha256((sd_dir / f"{name}.gguf").read_bytes()).hexdigest()[:10]
                # Forge's infotext: the model is the .gguf file, its text encoder / VAE files follow as modules
                assert f"Model hash: {digest}, Model: {name}, Module 1: base-sd1, Version: " in infotext
                got = _pixels(response.json())
                difference = np.abs(got - expected)
                # 4 Euler steps through a random-weight UNet: Q8_0's weight error (up to 0.4 % of each block's
                # largest value, about 1.2 % on the UNet's output) moved pixels by 0.21 levels on average (2 at
                # most); F16's rounding by 0.013 (1 at most). The bounds leave ~5x room for other CPUs' maths
                assert difference.mean() < tolerance and difference.max() <= 10, (name, difference.mean())
                assert got.std() > 10  # a picture, not a flat field
            assert len([m for m in model.model.diffusion_model.modules() if is_quantised_layer(m)]) == 0  # F16

            # other files picked: the live GGUF model is loaded again with them (the text encoder changes the picture)
            other = make_tiny_checkpoint("sd1", tmp_path / "elsewhere", name="other-sd1", seed=5)
            assert client.post("/sdapi/v1/options", json={"forge_additional_modules": [str(other)]}).status_code == 200
            f16 = dict(BODY, override_settings={"sd_model_checkpoint": "unet-sd1-F16"})
            again = client.post("/sdapi/v1/txt2img", json=f16)
            assert again.status_code == 200, again.text[:300]
            assert "Model: unet-sd1-F16, Module 1: other-sd1, " in json.loads(again.json()["info"])["infotexts"][0]
            assert shared.sd_model is not model and shared.sd_model.additional_modules == [str(other)]
            assert np.abs(_pixels(again.json()) - got).mean() > 1

            # files that cannot serve: the job fails with the reason, and the GGUF model comes back with the files
            # it had (not with the bad ones again), so the server still generates once the setting is put back
            broken = tmp_path / "elsewhere" / "broken-sd1.safetensors"
            broken.write_bytes(b"not a checkpoint")
            assert client.post("/sdapi/v1/options", json={"forge_additional_modules": [str(broken)]}).status_code == 200
            failed = client.post("/sdapi/v1/txt2img", json=f16)
            assert 400 <= failed.status_code < 500 and "broken-sd1" in failed.text, failed.text[:300]
            live = shared.model_manager.current
            assert live is not None and live.additional_modules == [str(other)]
            assert all(p.device.type != "meta" for p in live.parameters())  # loaded, not a freed shell
            assert client.post("/sdapi/v1/options", json={"forge_additional_modules": [str(other)]}).status_code == 200
            recovered = client.post("/sdapi/v1/txt2img", json=f16)
            assert recovered.status_code == 200, recovered.text[:300]
            assert np.abs(_pixels(recovered.json()) - _pixels(again.json())).max() == 0


def test_a_q8_0_unet_holds_about_half_the_bytes_of_fp16_and_computes_close(tmp_path):
    base = make_tiny_checkpoint("sd1", tmp_path, name="base")
    write_unet_gguf(base, tmp_path / "unet.gguf", T.Q8_0)
    reference = load_model(base).model.diffusion_model
    unet = load_model(tmp_path / "unet.gguf", LoadOptions(additional_modules=[str(base)])).model.diffusion_model
    quantised = [m for m in unet.modules() if is_quantised_layer(m)]
    assert len(quantised) > 100 and all(m.weight_q.dtype == torch.uint8 for m in quantised)
    fp16_bytes = sum(t.numel() * 2 for t in reference.parameters())
    # Q8_0 is 34 bytes per 32 weights (1.06 per weight, against 2); biases and norms stay fp32
    assert 0.5 < storage_bytes(unet) / fp16_bytes < 0.6
    x, t, context = torch.randn(2, 4, 8, 8), torch.tensor([500.0, 20.0]), torch.randn(2, 77, 32)
    with torch.no_grad():
        got, expected = unet(x, t, context), reference(x, t, context)
    assert (got - expected).norm() / expected.norm() < 0.03  # measured 1.2 % on this random-weight UNet

