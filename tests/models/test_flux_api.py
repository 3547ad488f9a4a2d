"""A tiny Flux dev checkpoint (all-in-one layout, T5 tokenizer in models/CLIP) through ``/sdapi/v1/txt2img``:
Forge's "Distilled CFG Scale" is the guidance embedding and is written in the infotext."""
from __future__ import annotations

import hashlib
import json

import numpy as np
from fastapi.testclient import TestClient

from modules.app_server import create_app
from modules.models.tiny_flux import make_tiny_flux_checkpoint
from modules.models.tiny_sd3 import write_tiny_t5_tokenizer
from modules.runtime.bootstrap import initialize
from modules.ui.frame import distilled_cfg_scale_visible
from tests.api.conftest import decode, encode, preserved_shared


def test_flux_dev_generates_through_the_api_with_distilled_cfg_in_the_infotext(tmp_path):
    data_dir = tmp_path / "data"
    models = data_dir / "models"
    path = make_tiny_flux_checkpoint(models / "Stable-diffusion", name="flux-tiny")
    write_tiny_t5_tokenizer(models / "CLIP" / "t5xxl_tokenizer.json")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    with preserved_shared() as shared:
        initialize(["--data-dir", str(data_dir), "--nowebui"])
        app = create_app(shared.cmd_opts, with_ui=False)
        model = shared.sd_model
        assert model.is_flux and model.family == "flux-dev" and model.use_distilled_cfg_scale
        # the txt2img / img2img Distilled CFG Scale sliders are shown while this model is loaded
        assert [u["visible"] for u in distilled_cfg_scale_visible()] == [True, True]
        with TestClient(app) as client:
            body = {"prompt": "a photo of a cat", "steps": 3, "width": 64, "height": 48, "sampler_name": "Euler",
                    "seed": 7, "cfg_scale": 1, "distilled_cfg_scale": 2.5}
            response = client.post("/sdapi/v1/txt2img", json=body)
            assert response.status_code == 200, response.text[:300]
            answer = response.json()
            infotext = json.loads(answer["info"])["infotexts"][0]
            assert infotext == ("a photo of a cat\n"
                                "Steps: 3, Sampler: Euler, Schedule type: Automatic, CFG scale: 1.0, "
                                "Distilled CFG Scale: 2.5, Seed: 7, "
                                f"Size: 64x48, Model hash: {digest}, Model: flux-tiny, Version: "
                                + infotext.split("Version: ")[1])
            image = np.asarray(decode(answer["images"][0]).convert("RGB"), dtype=np.float64)
            assert image.shape == (48, 64, 3) and image.std() > 0

            # the distilled scale reaches the guidance embedding: another value, another picture (same seed)
            other = client.post("/sdapi/v1/txt2img", json=dict(body, distilled_cfg_scale=6.0)).json()
            assert "Distilled CFG Scale: 6.0" in json.loads(other["info"])["infotexts"][0]
            assert not np.array_equal(np.asarray(decode(other["images"][0]).convert("RGB"), dtype=np.float64), image)

            # img2img: the flow interpolation start, odd patch counts (72x40 is a 9x5 latent)
            img2img = {"init_images": [encode(decode(answer["images"][0]))], "prompt": "a photo of a cat", "steps": 3,
                       "denoising_strength": 0.5, "width": 72, "height": 40, "sampler_name": "Euler", "seed": 3,
                       "cfg_scale": 1}
            response = client.post("/sdapi/v1/img2img", json=img2img)
            assert response.status_code == 200, response.text[:300]
            assert "Distilled CFG Scale: 3.5" in json.loads(response.json()["info"])["infotexts"][0]
            assert decode(response.json()["images"][0]).size == (72, 40)

            refused = client.post("/sdapi/v1/txt2img", json=dict(body, sampler_name="DDIM"))
            assert refused.status_code == 422
            assert "not supported for Flux" in refused.json()["detail"]
