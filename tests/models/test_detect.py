"""Full-size layouts and family detection from shapes alone (meta tensors and safetensors headers).

Reference key sets come from outside our code: diffusers' full-size models
mapped through diffusers' LDM converters (UNet, VAE), open_clip's published
model configs (OpenCLIP towers), and known facts about the public files
(SD1.5 has 686 UNet, 248 VAE, 197 text-encoder keys; SDXL base 2515 keys).
"""
from __future__ import annotations

import json
import warnings
from importlib import resources
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from modules.models.detection import detect, shape_table
from modules.models.loader import build_on_meta, choose_config, detect_checkpoint
from modules.models.model_config import bundled_config, read_config
from modules.models.state_dict_fixups import fix_state_dict

single_file = pytest.importorskip("diffusers.loaders.single_file_utils")
diffusers = pytest.importorskip("diffusers")
open_clip = pytest.importorskip("open_clip")

FULL_SIZE = {
    "v1-inference.yaml": "sd1",
    "v1-inpainting-inference.yaml": "sd1-inpaint",
    "instruct-pix2pix.yaml": "instruct-pix2pix",
    "v2-inference-v.yaml": "sd2-v",
    "v2-inpainting-inference.yaml": "sd2-inpaint",
    "sd_xl_base.yaml": "sdxl",
    "sd_xl_inpaint.yaml": "sdxl-inpaint",
    "sd_xl_refiner.yaml": "sdxl-refiner",
}

# Keys real checkpoints carry that our modules drop at the load boundary.
FILE_EXTRAS = {
    "sd1": {"cond_stage_model.transformer.text_model.embeddings.position_ids": (1, 77)},
    "sd2": {"cond_stage_model.model.logit_scale": ()},
    "sdxl": {"conditioner.embedders.0.transformer.text_model.embeddings.position_ids": (1, 77),
             "conditioner.embedders.1.model.logit_scale": ()},
    "sdxl-refiner": {"conditioner.embedders.0.model.logit_scale": ()},
}


@pytest.fixture(scope="module")
def meta_models():
    return {name: build_on_meta(bundled_config(name)) for name in FULL_SIZE}


def file_like_state_dict(model, family: str) -> dict[str, torch.Tensor]:
    sd = dict(model.state_dict())
    group = family if family == "sdxl-refiner" else family.split("-")[0].replace("instruct", "sd1")
    for key, shape in FILE_EXTRAS[group].items():
        sd[key] = torch.empty(shape, device="meta")
    return sd


def prefix_counts(model) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in model.state_dict():
        root = ".".join(key.split(".")[:3]) if key.startswith("conditioner.") else key.split(".")[0]
        counts[root] = counts.get(root, 0) + 1
    return counts


def test_public_key_counts(meta_models):
    sd1 = prefix_counts(meta_models["v1-inference.yaml"])
    assert sd1 == {"model": 686, "first_stage_model": 248, "cond_stage_model": 196}
    # SD1.5 files: + position_ids = 1131.  SDXL base files: + position_ids + logit_scale = 2515.
    assert sum(sd1.values()) + 1 == 1131
    assert len(meta_models["sd_xl_base.yaml"].state_dict()) + 2 == 2515


KNOWN_SHAPES = {
    "v1-inference.yaml": {
        "model.diffusion_model.input_blocks.1.1.proj_in.weight": (320, 320, 1, 1),
        "model.diffusion_model.input_blocks.0.0.weight": (320, 4, 3, 3),
        "model.diffusion_model.out.2.weight": (4, 320, 3, 3),
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768),
        "first_stage_model.encoder.mid.attn_1.q.weight": (512, 512, 1, 1),
        "first_stage_model.quant_conv.weight": (8, 8, 1, 1),
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": (49408, 768),
    },
    "v2-inference-v.yaml": {
        "model.diffusion_model.input_blocks.1.1.proj_in.weight": (320, 320),
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 1024),
        "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight": (3072, 1024),
        "cond_stage_model.model.transformer.resblocks.23.mlp.c_fc.weight": (4096, 1024),
        "cond_stage_model.model.positional_embedding": (77, 1024),
        "cond_stage_model.model.text_projection": (1024, 1024),
    },
    "sd_xl_base.yaml": {
        "model.diffusion_model.label_emb.0.0.weight": (1280, 2816),
        "model.diffusion_model.middle_block.1.transformer_blocks.9.attn2.to_k.weight": (1280, 2048),
        "model.diffusion_model.input_blocks.4.1.transformer_blocks.1.ff.net.0.proj.weight": (5120, 640),
        "conditioner.embedders.1.model.text_projection": (1280, 1280),
        "conditioner.embedders.1.model.transformer.resblocks.31.attn.in_proj_weight": (3840, 1280),
        "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight": (768,),
    },
    "sd_xl_refiner.yaml": {
        "model.diffusion_model.input_blocks.0.0.weight": (384, 4, 3, 3),
        "model.diffusion_model.label_emb.0.0.weight": (1536, 2560),
        "model.diffusion_model.input_blocks.4.1.transformer_blocks.3.attn2.to_k.weight": (768, 1280),
        "conditioner.embedders.0.model.ln_final.weight": (1280,),
    },
}


@pytest.mark.parametrize("name", sorted(KNOWN_SHAPES))
def test_known_shapes(meta_models, name):
    sd = meta_models[name].state_dict()
    for key, shape in KNOWN_SHAPES[name].items():
        assert tuple(sd[key].shape) == shape, key


@pytest.mark.parametrize("name", ["v1-inference.yaml", "v2-inference-v.yaml", "sd_xl_base.yaml",
                                  "sd_xl_refiner.yaml", "v1-inpainting-inference.yaml"])
def test_unet_and_vae_layout_equal_diffusers(meta_models, name):
    config = read_config(bundled_config(name))
    ours = meta_models[name].state_dict()
    ours_unet = {k: v for k, v in ours.items() if k.startswith("model.diffusion_model.")}
    ours_vae = {k: v for k, v in ours.items() if k.startswith("first_stage_model.")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unet_config = single_file.create_unet_diffusers_config_from_ldm(config, ours, image_size=512)
        vae_config = single_file.create_vae_diffusers_config_from_ldm(config, ours, image_size=512)
    for converted, our_part, model_cls, model_config, convert in (
            (None, ours_unet, diffusers.UNet2DConditionModel, unet_config, single_file.convert_ldm_unet_checkpoint),
            (None, ours_vae, diffusers.AutoencoderKL, vae_config, single_file.convert_ldm_vae_checkpoint)):
        with torch.device("meta"):
            reference = model_cls(**model_config).state_dict()
        converted = convert(dict(our_part), model_config)
        # Every one of our keys maps to exactly one diffusers key, and the result is diffusers' full layout.
        assert len(converted) == len(our_part) == len(reference)
        assert {k: tuple(v.shape) for k, v in converted.items()} == {k: tuple(v.shape) for k, v in reference.items()}


@pytest.mark.parametrize("name,prefix,arch", [
    ("v2-inference-v.yaml", "cond_stage_model.model.", "ViT-H-14"),
    ("sd_xl_base.yaml", "conditioner.embedders.1.model.", "ViT-bigG-14"),
    ("sd_xl_refiner.yaml", "conditioner.embedders.0.model.", "ViT-bigG-14"),
])
def test_open_clip_layout_equals_open_clip(meta_models, name, prefix, arch):
    spec = json.loads(resources.files("open_clip").joinpath("model_configs", f"{arch}.json").read_text())
    text_cfg = open_clip.model.CLIPTextCfg(**spec["text_cfg"])
    with torch.device("meta"):
        text = open_clip.model._build_text_tower(spec["embed_dim"], text_cfg)
        reference = {k: tuple(v.shape) for k, v in text.state_dict().items()}
    ours = {k[len(prefix):]: tuple(v.shape) for k, v in meta_models[name].state_dict().items() if k.startswith(prefix)}
    assert ours == reference


@pytest.mark.parametrize("name", sorted(FULL_SIZE))
def test_detection_from_meta_shapes(meta_models, name, tmp_path):
    family = FULL_SIZE[name]
    sd = file_like_state_dict(meta_models[name], family)
    fix_state_dict(sd)
    choice = choose_config(tmp_path / "model.safetensors", sd)
    assert choice.path.name == name
    assert choice.family == family


def test_sd2_from_shapes_alone_assumes_v_and_says_so(meta_models, tmp_path):
    sd = file_like_state_dict(meta_models["v2-inpainting-inference.yaml"], "sd2")
    sd["model.diffusion_model.input_blocks.0.0.weight"] = torch.empty(320, 4, 3, 3, device="meta")
    fix_state_dict(sd)
    choice = choose_config(tmp_path / "m.safetensors", sd)
    assert choice.path.name == "v2-inference-v.yaml"
    assert "assuming v-prediction" in choice.reason


def test_sd1_old_clip_layout_is_renamed(meta_models):
    sd = dict(meta_models["v1-inference.yaml"].state_dict())
    old = {k.replace("transformer.text_model.", "transformer."): v for k, v in sd.items()}
    old["model_ema.decay"] = torch.empty(())
    old["alphas_cumprod"] = torch.empty(1000)
    fix_state_dict(old)
    assert old.keys() == sd.keys()


def test_detection_rules_in_a1111_order():
    sdxl = {"conditioner.embedders.1.model.ln_final.weight": (1280,),
            "model.diffusion_model.input_blocks.0.0.weight": (320, 9, 3, 3)}
    assert detect(sdxl).family == "sdxl-inpaint"
    assert detect({"conditioner.embedders.0.model.ln_final.weight": (1280,)}).family == "sdxl-refiner"
    assert detect({"model.diffusion_model.x_embedder.proj.weight": (1536, 16, 2, 2)}).config == "sd3-inference.yaml"
    assert detect({"model.diffusion_model.input_blocks.0.0.weight": (320, 8, 3, 3)}).family == "instruct-pix2pix"
    assert detect({}).config == "v1-inference.yaml"
    assert shape_table({"a": ("F16", [2, 3]), "b": torch.empty(4, device="meta")}) == {"a": (2, 3), "b": (4,)}


def write_header_only(path: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    save_file({k: torch.zeros(s, dtype=torch.float16) for k, s in shapes.items()}, str(path))


@pytest.mark.parametrize("shapes,expected", [
    ({"conditioner.embedders.1.model.ln_final.weight": (1280,),
      "model.diffusion_model.input_blocks.0.0.weight": (320, 9, 3, 3)}, "sd_xl_inpaint.yaml"),
    ({"conditioner.embedders.0.model.ln_final.weight": (1280,)}, "sd_xl_refiner.yaml"),
    ({"cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight": (3072, 1024),
      "model.diffusion_model.input_blocks.0.0.weight": (320, 9, 3, 3)}, "v2-inpainting-inference.yaml"),
    ({"model.diffusion_model.input_blocks.0.0.weight": (320, 9, 3, 3)}, "v1-inpainting-inference.yaml"),
    # SD2-Turbo style: the SD2 tower saved in SGM layout is renamed before detection.
    ({"conditioner.embedders.0.model.ln_final.weight": (1024,),
      "conditioner.embedders.0.model.transformer.resblocks.0.attn.in_proj_weight": (3072, 1024)},
     "v2-inference-v.yaml"),
])
def test_detection_from_safetensors_header(tmp_path, shapes, expected):
    path = tmp_path / "model.safetensors"
    write_header_only(path, shapes)
    assert detect_checkpoint(path).path.name == expected


def test_yaml_next_to_checkpoint_wins(tmp_path):
    path = tmp_path / "model.safetensors"
    write_header_only(path, {"conditioner.embedders.1.model.ln_final.weight": (1280,)})
    (tmp_path / "model.yaml").write_text(bundled_config("v1-inference.yaml").read_text())
    choice = detect_checkpoint(path)
    assert choice.path == tmp_path / "model.yaml"
    assert "next to the checkpoint" in choice.reason


def test_detection_from_pickle_reads_no_weights(tmp_path):
    from modules.models.tiny_factory import tiny_state_dict
    path = tmp_path / "inpaint.ckpt"
    torch.save({"state_dict": tiny_state_dict("sd1-inpaint")}, path)
    assert detect_checkpoint(path).path.name == "v1-inpainting-inference.yaml"
