"""SD2-depth: the released layout on meta, MiDaS DPT-Hybrid, the depth conditioning, img2img through the API.

References outside our code: timm's ``vit_base_r50_s16_384`` (the MiDaS backbone: its key set, and its own
forward for the transformer taps), transformers' ``DPTForDepthEstimation`` (DPT-Hybrid, the depth estimator
diffusers' depth2img pipeline uses) on the same weights, diffusers' LDM converter and ``UNet2DConditionModel`` with 5 input
channels (the depth2img UNet, layout and numbers), MiDaS's documented resize rule for DPT-Hybrid.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import warnings

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from modules.models.config_registry import build_from_config
from modules.models.loader import build_on_meta, choose_config, load_model
from modules.models.model_config import bundled_config, read_config
from modules.models.nets.midas import DPTHybrid, make_vit_hybrid
from modules.models.state_dict_fixups import fix_state_dict
from modules.models.tiny_factory import TINY_MIDAS, make_tiny_checkpoint, tiny_config
from modules.processing.depth_conditioning import depth_conditioning, midas_input, midas_size

timm = pytest.importorskip("timm")
single_file = pytest.importorskip("diffusers.loaders.single_file_utils")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

MIDAS = "depth_model.model."


@pytest.fixture(scope="module")
def released():
    return build_on_meta(bundled_config("v2-midas-inference.yaml"))


def test_released_layout_detected_as_depth(released, tmp_path):
    sd = dict(released.state_dict())
    sd["cond_stage_model.model.logit_scale"] = torch.empty((), device="meta")
    fix_state_dict(sd)
    choice = choose_config(tmp_path / "512-depth-ema.safetensors", sd)
    assert (choice.path.name, choice.family) == ("v2-midas-inference.yaml", "sd2-depth")


def test_midas_backbone_is_timms_vit_hybrid(released):
    ours = {k[len(MIDAS + "pretrained.model."):]: tuple(v.shape) for k, v in released.state_dict().items()
            if k.startswith(MIDAS + "pretrained.model.")}
    with torch.device("meta"):
        reference = timm.create_model("vit_base_r50_s16_384", pretrained=False)
    assert ours == {k: tuple(v.shape) for k, v in reference.state_dict().items()}


def test_midas_head_layout(released):
    sd = {k[len(MIDAS):]: tuple(v.shape) for k, v in released.state_dict().items()
          if k.startswith(MIDAS) and not k.startswith(MIDAS + "pretrained.model.")}
    assert len(sd) == 60
    assert sd["pretrained.act_postprocess3.0.project.0.weight"] == (768, 1536)  # readout "project"
    assert sd["pretrained.act_postprocess4.4.weight"] == (768, 768, 3, 3)  # the 1/32 map
    assert [sd[f"scratch.layer{i}_rn.weight"] for i in range(1, 5)] == [
        (256, 256, 3, 3), (256, 512, 3, 3), (256, 768, 3, 3), (256, 768, 3, 3)]
    assert sd["scratch.refinenet4.resConfUnit1.conv1.weight"] == (256, 256, 3, 3)
    assert sd["scratch.output_conv.4.weight"] == (1, 32, 1, 1)


def test_unet_layout_is_diffusers_depth2img(released):
    config = read_config(bundled_config("v2-midas-inference.yaml"))
    unet = {k: v for k, v in released.state_dict().items() if k.startswith("model.diffusion_model.")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unet_config = single_file.create_unet_diffusers_config_from_ldm(config, unet, image_size=512)
    assert unet_config["in_channels"] == 5
    with torch.device("meta"):
        reference = diffusers.UNet2DConditionModel(**unet_config).state_dict()
    converted = single_file.convert_ldm_unet_checkpoint(dict(unet), unet_config)
    assert {k: tuple(v.shape) for k, v in converted.items()} == {k: tuple(v.shape) for k, v in reference.items()}


def test_tiny_unet_matches_diffusers():
    config = tiny_config("sd2-depth")
    torch.manual_seed(0)
    model = build_from_config(config, "tiny depth").eval()
    checkpoint = model.state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unet_config = single_file.create_unet_diffusers_config_from_ldm(config, checkpoint, image_size=64)
    ref = diffusers.UNet2DConditionModel(**unet_config).eval()
    ref.load_state_dict(single_file.convert_ldm_unet_checkpoint(checkpoint, unet_config), strict=True)
    x, c = torch.randn(2, 5, 16, 16), torch.randn(2, 77, 32)
    t = torch.tensor([10.0, 800.0])
    with torch.no_grad():
        got = model.model.diffusion_model(x, t, context=c)
        want = ref(x, t, encoder_hidden_states=c).sample
    assert ((got - want).abs().max() / want.abs().max()).item() < 1e-4


def test_transformer_taps_match_timms_forward():
    """At MiDaS's native 384 px (no position resize) the blocks 8 and 11 outputs are timm's own."""
    torch.manual_seed(0)
    sizes = {k: v for k, v in TINY_MIDAS.items() if k != "features"}
    dpt = DPTHybrid(make_vit_hybrid(**sizes), 32).eval()
    x = torch.rand(1, 3, 384, 384) * 2 - 1
    with torch.no_grad():
        l1, l2, l3, l4 = dpt.features(x)
        taps = dpt.pretrained.model.forward_intermediates(x, indices=[8, 11], norm=False, output_fmt="NLC",
                                                          return_prefix_tokens=True, intermediates_only=True)
        stages = dpt.pretrained.model.patch_embed.backbone.stages
        stem = dpt.pretrained.model.patch_embed.backbone.stem(x)
        assert torch.allclose(l1, stages[0](stem)) and torch.allclose(l2, stages[1](stages[0](stem)))
        for ours, (patches, prefix), post in zip((l3, l4), taps, (dpt.pretrained.act_postprocess3,
                                                                   dpt.pretrained.act_postprocess4)):
            tokens = torch.cat([prefix, patches], dim=1)
            expected = post[3:](post[0](tokens).transpose(1, 2).unflatten(2, (24, 24)))
            assert torch.allclose(ours, expected, atol=1e-5)
    assert [f.shape[-1] for f in (l1, l2, l3, l4)] == [96, 48, 24, 12]


def hf_config(width: int, heads: int, stem: int, blocks: tuple[int, ...], features: int):
    """transformers' DPT-Hybrid config (as Intel/dpt-hybrid-midas has it) at the given sizes."""
    chans = [stem * 4 * 2 ** i for i in range(3)]
    bit = transformers.BitConfig(global_padding="same", layer_type="bottleneck", depths=list(blocks),
                                 hidden_sizes=chans, embedding_size=stem, embedding_dynamic_padding=True,
                                 out_features=["stage1", "stage2", "stage3"])
    return transformers.DPTConfig(is_hybrid=True, backbone_config=bit, hidden_size=width, num_hidden_layers=12,
                                  num_attention_heads=heads, intermediate_size=4 * width,
                                  neck_hidden_sizes=[chans[0], chans[1], width, width],
                                  backbone_featmap_shape=[1, chans[2], 24, 24], readout_type="project",
                                  reassemble_factors=[1, 1, 1, 0.5], fusion_hidden_size=features, head_in_index=-1,
                                  image_size=384)


VIT_NAMES = {"attn.proj": "attention.output.dense", "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense",
             "norm1": "layernorm_before", "norm2": "layernorm_after"}
RENAMES = [  # (our key pattern, transformers' key)
    (r"pretrained\.model\.cls_token", "dpt.embeddings.cls_token"),
    (r"pretrained\.model\.pos_embed", "dpt.embeddings.position_embeddings"),
    (r"pretrained\.model\.patch_embed\.backbone\.stem\.conv\.(.*)", r"dpt.embeddings.backbone.bit.embedder.convolution.\1"),
    (r"pretrained\.model\.patch_embed\.backbone\.stem\.norm\.(.*)", r"dpt.embeddings.backbone.bit.embedder.norm.\1"),
    (r"pretrained\.model\.patch_embed\.backbone\.stages\.(\d+)\.blocks\.(\d+)\.(.*)",
     r"dpt.embeddings.backbone.bit.encoder.stages.\1.layers.\2.\3"),
    (r"pretrained\.model\.patch_embed\.proj\.(.*)", r"dpt.embeddings.projection.\1"),
    (r"pretrained\.model\.norm\.(.*)", r"dpt.layernorm.\1"),
    (r"pretrained\.act_postprocess([34])\.0\.project\.0\.(.*)",
     lambda m: f"neck.reassemble_stage.readout_projects.{int(m[1]) - 1}.0.{m[2]}"),
    (r"pretrained\.act_postprocess([34])\.3\.(.*)", lambda m: f"neck.reassemble_stage.layers.{int(m[1]) - 1}.projection.{m[2]}"),
    (r"pretrained\.act_postprocess4\.4\.(.*)", r"neck.reassemble_stage.layers.3.resize.\1"),
    (r"scratch\.layer(\d)_rn\.(.*)", lambda m: f"neck.convs.{int(m[1]) - 1}.{m[2]}"),
    (r"scratch\.output_conv\.(\d)\.(.*)", r"head.head.\1.\2"),
]
FUSION_NAMES = {"resConfUnit1": "residual_layer1", "resConfUnit2": "residual_layer2", "conv1": "convolution1",
                "conv2": "convolution2", "out_conv": "projection"}


def to_hf(sd: dict) -> dict:
    """Our (MiDaS) keys -> transformers' DPT keys; timm's fused qkv split into query, key, value."""
    out = {}
    for key, value in sd.items():
        if key.startswith("pretrained.model.head."):
            continue  # the ViT's classifier: unused by MiDaS, absent from transformers' DPT
        block = re.fullmatch(r"pretrained\.model\.blocks\.(\d+)\.(.*)\.(weight|bias)", key)
        fusion = re.fullmatch(r"scratch\.refinenet(\d)\.(.*)", key)
        if block:
            prefix = f"dpt.encoder.layer.{block[1]}."
            if block[2] == "attn.qkv":
                for part, name in zip(value.chunk(3, 0), ("query", "key", "value")):
                    out[f"{prefix}attention.attention.{name}.{block[3]}"] = part
            else:
                out[f"{prefix}{VIT_NAMES[block[2]]}.{block[3]}"] = value
        elif fusion:  # transformers fuses from the deepest map: its layer 0 is refinenet4
            rest = ".".join(FUSION_NAMES.get(part, part) for part in fusion[2].split("."))
            out[f"neck.fusion_stage.layers.{4 - int(fusion[1])}.{rest}"] = value
        else:
            for pattern, target in RENAMES:
                match = re.fullmatch(pattern, key)
                if match:
                    out[match.expand(target) if isinstance(target, str) else target(match)] = value
                    break
            else:
                raise AssertionError(f"unmapped key {key}")
    return out

def test_midas_matches_transformers_dpt_hybrid():
    """The whole depth network against transformers' DPTForDepthEstimation (hybrid) on the same weights."""
    torch.manual_seed(0)
    sizes = {k: v for k, v in TINY_MIDAS.items() if k != "features"}
    dpt = DPTHybrid(make_vit_hybrid(**sizes), TINY_MIDAS["features"]).eval()
    with torch.no_grad():
        for p in dpt.parameters():
            p.add_(torch.randn_like(p) * 0.02)
        dpt.scratch.output_conv[4].bias.fill_(1.0)
    ref = transformers.DPTForDepthEstimation(hf_config(32, 2, 32, (1, 1, 1), 32)).eval()
    ref.load_state_dict(to_hf(dpt.state_dict()), strict=True)
    x = torch.rand(1, 3, 384, 384) * 2 - 1
    with torch.no_grad():
        ours, want = dpt(x), ref(pixel_values=x).predicted_depth
    assert ours.std() > 0
    assert ((ours - want).abs().max() / want.abs().max()).item() < 1e-4


def test_midas_resize_rule():
    # "minimal": the scale nearer 1 of the two that fit 384, sides rounded to multiples of 32
    assert midas_size(512, 512) == (384, 384)
    assert midas_size(768, 512) == (576, 384)
    assert midas_size(64, 96) == (256, 384)
    assert midas_input(torch.zeros(3, 64, 64)).shape == (1, 3, 384, 384)
    assert midas_input(-torch.ones(3, 32, 32)).min() == -1  # MiDaS's normalisation: (x - 0.5) / 0.5


def test_depth_model_follows_the_unets_dtype_not_the_files(tmp_path):
    model = load_model(make_tiny_checkpoint("sd2-depth", tmp_path, dtype=torch.float16))
    assert {p.dtype for p in model.depth_model.parameters()} == {torch.float32}  # the CPU plan: fp32


@pytest.fixture(scope="module")
def tiny_depth(tmp_path_factory):
    return load_model(make_tiny_checkpoint("sd2-depth", tmp_path_factory.mktemp("depth")))


def test_depth_conditioning_is_a1111s(tiny_depth):
    image = torch.rand(2, 3, 64, 96) * 2 - 1
    latent = torch.zeros(2, 4, 8, 12)
    cond = depth_conditioning(tiny_depth, image, latent)
    assert cond.shape == (2, 1, 8, 12)
    assert cond.min().item() == pytest.approx(-1) and cond.max().item() == pytest.approx(1)
    assert torch.equal(cond[0], cond[1])  # the first picture's depth for every batch item
    # the same as MiDaS on the first picture, resized bicubic and stretched
    with torch.no_grad():
        depth = tiny_depth.depth_model(midas_input(image[0]))
    depth = torch.nn.functional.interpolate(depth, size=(8, 12), mode="bicubic", align_corners=False)
    assert torch.allclose(cond[:1], 2 * (depth - depth.min()) / (depth.max() - depth.min()) - 1, atol=1e-6)
    assert tiny_depth.depth_model(midas_input(image[0])).shape == (1, 1, 256, 384)


def png_b64(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_img2img_through_the_api_and_txt2img_refused(tmp_path):
    from modules.app_server import create_app
    from modules.runtime.bootstrap import initialize
    from tests.api.conftest import preserved_shared

    data_dir = tmp_path / "data"
    path = make_tiny_checkpoint("sd2-depth", data_dir / "models" / "Stable-diffusion", name="depth-tiny")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    rng = np.random.default_rng(0)
    init = Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).resize((64, 64))
    body = {"prompt": "a room", "negative_prompt": "", "steps": 2, "width": 64, "height": 64, "seed": 3,
            "sampler_name": "Euler", "cfg_scale": 7}
    with preserved_shared() as shared:
        initialize(["--data-dir", str(data_dir), "--nowebui"])
        assert shared.sd_model.family == "sd2-depth"
        with TestClient(create_app(shared.cmd_opts, with_ui=False)) as client:
            response = client.post("/sdapi/v1/img2img", json={**body, "init_images": [png_b64(init)],
                                                              "denoising_strength": 0.6})
            assert response.status_code == 200, response.text[:300]
            refused = client.post("/sdapi/v1/txt2img", json=body)
    infotext = json.loads(response.json()["info"])["infotexts"][0]
    assert f"Model hash: {digest}, Model: depth-tiny" in infotext and "Denoising strength: 0.6" in infotext
    assert refused.status_code == 422 and "img2img" in refused.json()["detail"]


def test_depth_weights_from_models_midas_when_the_checkpoint_has_none(tmp_path, restore_shared):
    from safetensors.torch import load_file, save_file

    from modules.models.checkpoint_io import CheckpointError
    from modules.models.loader import LoadOptions
    from modules.models.midas_weights import MIDAS_FILE
    from modules.runtime.bootstrap import initialize

    data_dir = tmp_path / "data"
    path = make_tiny_checkpoint("sd2-depth", data_dir / "models" / "Stable-diffusion", name="unet-only")
    sd = load_file(str(path))
    midas = {k[len(MIDAS):]: v for k, v in sd.items() if k.startswith(MIDAS)}
    save_file({k: v for k, v in sd.items() if not k.startswith("depth_model.")}, str(path))
    folder = data_dir / "models" / "midas"
    with pytest.raises(CheckpointError, match=f"{MIDAS_FILE} in {folder}"):
        load_model(path, LoadOptions(midas_dir=folder))
    folder.mkdir(parents=True)
    torch.save(midas, folder / MIDAS_FILE)  # MiDaS's release file: DPTDepthModel's own keys
    initialize(["--data-dir", str(data_dir), "--nowebui"])  # the model manager points the loader at models/midas
    model = restore_shared.sd_model
    assert model.family == "sd2-depth"
    assert torch.equal(model.depth_model.model.scratch.output_conv[4].bias, midas["scratch.output_conv.4.bias"])
