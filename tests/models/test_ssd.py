"""SSD-1B (Segmind's pruned SDXL): detection, the pruned layout at full size, parity, generation.

References from outside our code: A1111's ``convert_sdxl_to_ssd`` deletion list (written out
below as the released key set: the SDXL base layout minus what A1111 deletes), diffusers'
``UNet2DConditionModel`` configured as SSD-1B is (per-block transformer depths, the reversed
list for the decoder, a middle block of one ResNet: ``UNetMidBlock2D``) with diffusers' LDM
converter mapping our keys, and diffusers' forward pass on the same weights for the tiny model.
"""
from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from modules.models.checkpoint_io import CheckpointError
from modules.models.config_registry import build_from_config
from modules.models.detection import detect
from modules.models.loader import build_on_meta, choose_config, detect_checkpoint, load_model
from modules.models.model_config import bundled_config, read_config
from modules.models.nets.sdxl_conditioner import ConcatTimestepEmbedderND
from modules.models.ssd import apply_ssd_layout, is_ssd_checkpoint, prune_unet_to_checkpoint
from modules.models.tiny_factory import make_tiny_checkpoint, tiny_config, tiny_state_dict
from modules.app_server import create_app
from modules.runtime.bootstrap import initialize
from tests.api.conftest import decode, preserved_shared

single_file = pytest.importorskip("diffusers.loaders.single_file_utils")
diffusers = pytest.importorskip("diffusers")

UNET = "model.diffusion_model."


def a1111_ssd_keys(sdxl_keys: list[str]) -> list[str]:
    """The SDXL base keys minus what A1111's ``convert_sdxl_to_ssd`` deletes (its list, written out)."""
    dropped = [f"{UNET}middle_block.1.", f"{UNET}middle_block.2."]
    for block in ("input_blocks.7.1", "input_blocks.8.1", "output_blocks.0.1", "output_blocks.1.1"):
        dropped += [f"{UNET}{block}.transformer_blocks.{i}." for i in range(4, 10)]
    dropped += [f"{UNET}output_blocks.{b}.1.transformer_blocks.1." for b in (4, 5)]
    return [k for k in sdxl_keys if not k.startswith(tuple(dropped))]


@pytest.fixture(scope="module")
def released():
    """The SSD-1B file's keys and shapes on meta: SDXL base as the released files have it, cut as A1111 cuts."""
    sdxl = build_on_meta(bundled_config("sd_xl_base.yaml")).state_dict()
    keys = a1111_ssd_keys(list(sdxl))
    shapes = {k: tuple(sdxl[k].shape) for k in keys}
    shapes["conditioner.embedders.0.transformer.text_model.embeddings.position_ids"] = (1, 77)
    shapes["conditioner.embedders.1.model.logit_scale"] = ()
    return shapes


def test_released_layout_is_detected_as_ssd(released, tmp_path):
    found = detect(released)
    assert (found.family, found.config) == ("ssd-1b", "sd_xl_base.yaml")
    assert "no model.diffusion_model.middle_block.1.transformer_blocks.0.attn1.to_q.weight" in found.reason
    choice = choose_config(tmp_path / "ssd-1b.safetensors", released)
    assert (choice.path.name, choice.family) == ("sd_xl_base.yaml", "ssd-1b")
    # the full SDXL base layout stays SDXL
    sdxl = dict(released, **{UNET + "middle_block.1.transformer_blocks.0.attn1.to_q.weight": (1280, 1280)})
    assert detect(sdxl).family == "sdxl"


def test_pruning_on_meta_gives_exactly_a1111s_layout(released):
    model = build_on_meta(bundled_config("sd_xl_base.yaml"))
    assert apply_ssd_layout(model, released.keys()) and model.is_ssd
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = {k: s for k, s in released.items() if not k.endswith(("position_ids", "logit_scale"))}
    assert ours == expected
    unet = model.model.diffusion_model
    assert len(unet.middle_block) == 1
    depths = {name: len(m.transformer_blocks) for name, m in unet.named_modules() if hasattr(m, "transformer_blocks")}
    assert depths == {"input_blocks.4.1": 2, "input_blocks.5.1": 2, "input_blocks.7.1": 4, "input_blocks.8.1": 4,
                      "output_blocks.0.1": 4, "output_blocks.1.1": 4, "output_blocks.2.1": 10,
                      "output_blocks.3.1": 2, "output_blocks.4.1": 1, "output_blocks.5.1": 1}
    # SSD-1B is named for its ~1.3B UNet parameters (SDXL base: ~2.6B)
    assert 1.25e9 < sum(p.numel() for p in unet.parameters()) < 1.35e9


def ssd_diffusers_config(ldm_config, checkpoint, down_depths, up_depths, image_size):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = single_file.create_unet_diffusers_config_from_ldm(ldm_config, checkpoint, image_size=image_size)
    config.update(transformer_layers_per_block=down_depths, reverse_transformer_layers_per_block=up_depths,
                  mid_block_type="UNetMidBlock2D", addition_embed_type="text_time", addition_time_embed_dim=256,
                  class_embed_type=None)
    return config


def test_full_size_layout_equals_diffusers_ssd_1b(released):
    model = build_on_meta(bundled_config("sd_xl_base.yaml"))
    apply_ssd_layout(model, released.keys())
    ours = {k: v for k, v in model.state_dict().items() if k.startswith(UNET)}
    # segmind/SSD-1B's UNet config: SDXL's, with these depths and a one-ResNet middle block
    config = ssd_diffusers_config(read_config(bundled_config("sd_xl_base.yaml")), ours, [1, 2, 4],
                                  [[4, 4, 10], [2, 1, 1], [1, 1, 1]], image_size=1024)
    with torch.device("meta"):
        reference = diffusers.UNet2DConditionModel(**config).state_dict()
    converted = single_file.convert_ldm_unet_checkpoint(dict(ours), config)
    assert len(converted) == len(ours) == len(reference)
    assert {k: tuple(v.shape) for k, v in converted.items()} == {k: tuple(v.shape) for k, v in reference.items()}


def test_tiny_unet_matches_diffusers():
    sd = tiny_state_dict("ssd-1b")
    config = tiny_config("ssd-1b")
    ours = build_from_config(config, "tiny ssd").eval()
    apply_ssd_layout(ours, sd.keys())
    ours.load_state_dict({k: v for k, v in sd.items() if k in ours.state_dict()}, strict=True)
    unet_sd = {k: v for k, v in sd.items() if k.startswith(UNET)}
    dconfig = ssd_diffusers_config(config, unet_sd, [1, 2], [[2, 1], [1, 1]], image_size=64)
    ref = diffusers.UNet2DConditionModel(**dconfig).eval()
    ref.load_state_dict(single_file.convert_ldm_unet_checkpoint(unet_sd, dconfig), strict=True)
    unet = ours.model.diffusion_model
    torch.manual_seed(2)
    x = torch.randn(2, 4, 16, 16)
    t = torch.tensor([3.0, 700.0])
    context = torch.randn(2, 77, unet.context_dim)
    time_ids = torch.tensor([[1024.0, 768.0, 0.0, 32.0, 1024.0, 768.0], [512.0, 512.0, 16.0, 0.0, 640.0, 896.0]])
    pooled = torch.randn(2, unet.adm_in_channels - 256 * 6)
    fourier = ConcatTimestepEmbedderND(256)
    y = torch.cat([pooled] + [fourier(time_ids[:, i:i + 2]) for i in range(0, 6, 2)], dim=1)
    with torch.no_grad():
        got = unet(x, t, context=context, y=y)
        want = ref(x, t, encoder_hidden_states=context,
                   added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}).sample
    assert ((got - want).abs().max() / want.abs().max()).item() < 1e-4


def test_tiny_checkpoint_loads_with_the_yaml_and_by_detection(tmp_path):
    path = make_tiny_checkpoint("ssd-1b", tmp_path)
    model = load_model(path)
    assert (model.family, model.is_ssd, model.is_sdxl) == ("ssd-1b", True, True)
    assert len(model.model.diffusion_model.middle_block) == 1
    # without the YAML, the tiny file's shapes are not SDXL's sizes, but detection still names it
    path.with_suffix(".yaml").unlink()
    assert detect_checkpoint(path).family == "ssd-1b"


def test_non_trailing_gap_is_a_clear_error():
    model = build_from_config(tiny_config("sdxl"), "tiny sdxl")
    keys = set(model.state_dict())
    keys -= {k for k in keys if ".input_blocks.3.1.transformer_blocks.0." in k}
    assert not is_ssd_checkpoint(keys, True)
    with pytest.raises(CheckpointError, match=r"input_blocks\.3\.1\.transformer_blocks\..*lacks block 0"):
        prune_unet_to_checkpoint(model.model.diffusion_model, keys)


def test_plain_sdxl_is_not_pruned():
    model = build_from_config(tiny_config("sdxl"), "tiny sdxl")
    before = set(model.state_dict())
    assert not apply_ssd_layout(model, before)
    assert set(model.state_dict()) == before and not model.is_ssd


def test_generates_through_the_api_with_a1111s_infotext(tmp_path):
    data_dir = tmp_path / "data"
    path = make_tiny_checkpoint("ssd-1b", data_dir / "models" / "Stable-diffusion", name="ssd-tiny")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    with preserved_shared() as shared:
        initialize(["--data-dir", str(data_dir), "--nowebui"])
        app = create_app(shared.cmd_opts, with_ui=False)
        assert shared.sd_model.is_ssd and shared.sd_model.family == "ssd-1b"
        with TestClient(app) as client:
            body = {"prompt": "a photo of a cat", "negative_prompt": "", "steps": 3, "width": 64, "height": 64,
                    "sampler_name": "Euler a", "seed": 7, "cfg_scale": 7}
            response = client.post("/sdapi/v1/txt2img", json=body)
            assert response.status_code == 200, response.text[:300]
            answer = response.json()
    image = np.asarray(decode(answer["images"][0]).convert("RGB"), dtype=np.float64)
    assert image.shape == (64, 64, 3) and image.std() > 0
    infotext = json.loads(answer["info"])["infotexts"][0]
    assert "Steps: 3, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7.0, Seed: 7, Size: 64x64, " \
           f"Model hash: {digest}, Model: ssd-tiny, Version: " in infotext
