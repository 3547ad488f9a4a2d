"""Token merging on the full-size SD1.5 checkpoint: the UNet equals tomesd patched onto the same model, and a
generation at ratio 0.5 through the API differs from ratio 0 but keeps the picture.

SD1.5 is the family A1111's defaults act on (transformer blocks at full latent resolution; SD2 has them too,
SDXL has none there, so ``max_downsample`` 1 leaves an SDXL UNet unchanged: tests/models covers that layout).
"""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from modules.models.nets import transformer as transformer_net
from modules.models.token_merging import applied, token_merging
from tests.fullsize.conftest import fullsize_server, heavy

pytestmark = pytest.mark.slow
FAMILIES_USED = ("sd15",)

REQUEST = {"prompt": "a photo of a cat", "negative_prompt": "", "steps": 3, "width": 64, "height": 64,
           "sampler_name": "Euler", "seed": 1234, "cfg_scale": 7}


def generate(client, **changes) -> tuple[np.ndarray, str]:
    response = client.post("/sdapi/v1/txt2img", json={**REQUEST, **changes})
    assert response.status_code == 200, response.text[:500]
    answer = response.json()
    image = Image.open(io.BytesIO(base64.b64decode(answer["images"][0]))).convert("RGB")
    return np.asarray(image, dtype=np.float64), json.loads(answer["info"])["infotexts"][0]


class BasicTransformerBlock(transformer_net.BasicTransformerBlock):
    """LDM's block shape for tomesd (test only): it finds blocks by this class name and replaces ``_forward``."""

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self._forward(x, context)

    def _forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        x = self.attn1(self.norm1(x), context=None) + x
        x = self.attn2(self.norm2(x), context=context) + x
        return self.ff(self.norm3(x)) + x


def unet_equals_tomesd(sd_model: nn.Module) -> None:
    tomesd = pytest.importorskip("tomesd")
    unet = sd_model.model.diffusion_model
    torch.manual_seed(0)
    # 16x24 latent (128x192 px): the full-resolution blocks hold 384 tokens, 192 of them merged
    x, t, context = torch.randn(2, 4, 16, 24), torch.tensor([700.0, 700.0]), torch.randn(2, 77, 768)
    with torch.no_grad():
        with token_merging(unet, 0.5):
            ours = unet(x, t, context)
        swapped = [m for m in unet.modules() if type(m) is transformer_net.BasicTransformerBlock]
        assert len(swapped) == 16
        try:
            for module in swapped:
                module.__class__ = BasicTransformerBlock
            tomesd.apply_patch(sd_model, ratio=0.5, use_rand=False, merge_attn=True, merge_crossattn=False,
                               merge_mlp=False)
            theirs = unet(x, t, context)
        finally:
            tomesd.remove_patch(sd_model)
            for module in swapped:
                module.__class__ = transformer_net.BasicTransformerBlock
    assert torch.equal(ours, theirs)


@heavy
def test_sd15_token_merging(fullsize, tmp_path):
    import modules.shared as shared

    with fullsize_server(fullsize, ("sd15",), tmp_path) as client:
        unet_equals_tomesd(shared.sd_model)

        plain, plain_info = generate(client)
        merged, merged_info = generate(client, override_settings={"token_merging_ratio": 0.5})
        other_seed, _ = generate(client, seed=4321)
        again, _ = generate(client)
        assert applied(shared.sd_model) is None
        assert "Token merging" not in plain_info
        assert "Token merging ratio: 0.5" in merged_info and "Token merging ratio hr" not in merged_info
        assert np.array_equal(again, plain), "merging must be off again after the job"

        change = np.abs(merged - plain).mean()
        seed_change = np.abs(other_seed - plain).mean()
        assert change > 0, "ratio 0.5 must change the picture"
        # ToMe replaces half the tokens' self-attention output in the full-resolution blocks by that of their
        # most similar token: the same picture with details moved, far less than another seed's different
        # picture (whose distance is the scale of "a different image" for these weights)
        assert change < 0.25 * seed_change, (change, seed_change)
