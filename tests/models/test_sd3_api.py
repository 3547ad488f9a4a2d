"""A tiny SD3 checkpoint (released layout, CLIPs in models/CLIP) through the web UI: txt2img and img2img over
``/sdapi/v1`` with A1111's infotext, a timestep sampler refused with a 422, and the 16-channel live preview."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import torch
from fastapi.testclient import TestClient
from PIL import Image

from modules.app_server import create_app
from modules.models.tiny_sd3 import make_tiny_sd3_checkpoint
from modules.processing.live_preview import SD3_LATENT_TO_RGB, latent_to_preview
from modules.runtime.bootstrap import initialize
from tests.api.conftest import decode, encode, preserved_shared


def test_sd3_generates_through_the_api_with_a1111s_infotext(tmp_path):
    data_dir = tmp_path / "data"
    models = data_dir / "models"
    # like sd3_medium.safetensors: no text encoders in the file, CLIP-L/G in models/CLIP
    path = make_tiny_sd3_checkpoint(models / "Stable-diffusion", name="sd3-tiny", text_encoders=False,
                                    clip_dir=models / "CLIP")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    with preserved_shared() as shared:
        initialize(["--data-dir", str(data_dir), "--nowebui"])
        app = create_app(shared.cmd_opts, with_ui=False)
        model = shared.sd_model
        assert model.is_sd3 and model.family == "sd3" and model.latent_channels == 16
        with TestClient(app) as client:
            body = {"prompt": "a photo of a cat", "negative_prompt": "blurry", "steps": 3, "width": 64,
                    "height": 48, "sampler_name": "Euler", "seed": 7, "cfg_scale": 5}
            response = client.post("/sdapi/v1/txt2img", json=body)
            assert response.status_code == 200, response.text[:300]
            answer = response.json()
            image = decode(answer["images"][0]).convert("RGB")
            infotext = json.loads(answer["info"])["infotexts"][0]
            assert infotext == ("a photo of a cat\nNegative prompt: blurry\n"
                                "Steps: 3, Sampler: Euler, Schedule type: Automatic, CFG scale: 5.0, Seed: 7, "
                                f"Size: 64x48, Model hash: {digest}, Model: sd3-tiny, Version: "
                                + infotext.split("Version: ")[1])
            pixels = np.asarray(image, dtype=np.float64)
            assert pixels.shape == (48, 64, 3) and pixels.std() > 0

            # the same request again is the same picture (seeded noise, deterministic flow sampling)
            again = client.post("/sdapi/v1/txt2img", json=body).json()
            assert np.array_equal(np.asarray(decode(again["images"][0]).convert("RGB")), np.asarray(image))

            img2img = {"init_images": [encode(image)], "prompt": "a photo of a cat", "steps": 4,
                       "denoising_strength": 0.5, "width": 72, "height": 40, "sampler_name": "Euler", "seed": 3}
            response = client.post("/sdapi/v1/img2img", json=img2img)
            assert response.status_code == 200, response.text[:300]
            assert "Denoising strength: 0.5" in json.loads(response.json()["info"])["infotexts"][0]
            # 72x40 is a 9x5 latent: an odd number of rows and columns of 2x2 patches
            assert decode(response.json()["images"][0]).size == (72, 40)

            refused = client.post("/sdapi/v1/txt2img", json=dict(body, sampler_name="DDIM"))
            assert refused.status_code == 422
            assert refused.json()["detail"] == ("Sampler DDIM is not supported for SD3; "
                                                "use a k-diffusion sampler such as Euler")

        preview = latent_to_preview(torch.ones(1, 16, 3, 5), model)
        assert isinstance(preview, Image.Image) and preview.size == (5, 3)
        expected = np.clip((np.array(SD3_LATENT_TO_RGB).sum(axis=0) + 1) / 2, 0, 1) * 255
        assert np.abs(np.asarray(preview)[0, 0] - expected.round()).max() <= 1
        assert latent_to_preview(torch.ones(1, 4, 3, 5), model) is None  # not this model's latent
