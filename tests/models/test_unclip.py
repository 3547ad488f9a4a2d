"""SD2 unCLIP-L/H: the released layouts on meta, the image towers and the noise augmentation against independent
implementations, the conditioning A1111 gives the UNet, txt2img and img2img through the API.

References outside our code: open_clip (``CLIP`` at the released ViT-L/14-quickgelu and ViT-H-14 sizes: the
embedder's key set; its image tower at tiny width), transformers' ``CLIPVisionModelWithProjection`` (the image
encoder of diffusers' ``StableUnCLIPImg2ImgPipeline``), diffusers' ``StableUnCLIPImageNormalizer``, its
``DDPMScheduler`` (``squaredcos_cap_v2``) and ``get_timestep_embedding`` as that pipeline's
``noise_image_embeddings`` combines them.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from modules.models.checkpoint_io import CheckpointError
from modules.models.loader import LoadOptions, build_on_meta, choose_config, load_model
from modules.models.model_config import bundled_config
from modules.models.state_dict_fixups import fix_state_dict
from modules.models.tiny_factory import TINY_CLIP_IMAGE, make_tiny_checkpoint, write_tiny_clip_stats
from modules.processing.unclip_conditioning import txt2img_unclip_conditioning, unclip_conditioning

open_clip = pytest.importorskip("open_clip")
transformers = pytest.importorskip("transformers")
diffusers = pytest.importorskip("diffusers")

YAML = {"l": "v2-1-stable-unclip-l-inference.yaml", "h": "v2-1-stable-unclip-h-inference.yaml"}


def _open_clip_model(arch: str, device: str = "meta") -> torch.nn.Module:
    with torch.device(device):
        return open_clip.create_model(arch, pretrained=None, device=device)


@pytest.mark.parametrize("kind,arch,adm", [("l", "ViT-L-14-quickgelu", 1536), ("h", "ViT-H-14", 2048)])
def test_released_layout_on_meta(kind, arch, adm, tmp_path):
    model = build_on_meta(bundled_config(YAML[kind]))
    sd = dict(model.state_dict())
    ours = {k[len("embedder.model."):]: tuple(v.shape) for k, v in sd.items() if k.startswith("embedder.model.")}
    reference = {k: tuple(v.shape) for k, v in _open_clip_model(arch).state_dict().items()}
    if kind == "h":  # FrozenOpenCLIPImageEmbedder deletes the text transformer; the rest stays in the file
        reference = {k: v for k, v in reference.items() if not k.startswith("transformer.")}
    assert ours == reference
    assert sd["model.diffusion_model.label_emb.0.0.weight"].shape == (1280, adm)
    assert {k for k in sd if k.startswith("noise_augmentor.")} == {f"noise_augmentor.{name}" for name in (
        "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
        "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod")}
    sd["cond_stage_model.model.logit_scale"] = torch.empty((), device="meta")
    fix_state_dict(sd)
    choice = choose_config(tmp_path / f"sd21-unclip-{kind}.safetensors", sd)
    assert (choice.path.name, choice.family) == (YAML[kind], f"sd2-unclip-{kind}")


def test_noise_schedule_is_diffusers_squaredcos(tiny_l):
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    ours = tiny_l.noise_augmentor
    assert torch.allclose(ours.alphas_cumprod, scheduler.alphas_cumprod, rtol=1e-5, atol=1e-7)
    assert torch.allclose(ours.betas, scheduler.betas, rtol=1e-5, atol=1e-8)


def _diffusers_noising(embeds: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, level: int,
                       noise: torch.Tensor) -> torch.Tensor:
    """``StableUnCLIPImg2ImgPipeline.noise_image_embeddings`` with the given noise."""
    from diffusers.models.embeddings import get_timestep_embedding
    from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import StableUnCLIPImageNormalizer

    normalizer = StableUnCLIPImageNormalizer(embeds.shape[1])
    with torch.no_grad():
        normalizer.mean.copy_(mean.reshape(1, -1))
        normalizer.std.copy_(std.reshape(1, -1))
        scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
        levels = torch.full((embeds.shape[0],), level, dtype=torch.long)
        noised = normalizer.unscale(scheduler.add_noise(normalizer.scale(embeds), noise, levels))
        level_embedding = get_timestep_embedding(levels, embeds.shape[1], flip_sin_to_cos=True,
                                                 downscale_freq_shift=0)
    return torch.cat([noised, level_embedding], dim=1)


@pytest.mark.parametrize("level", [0, 250, 999])
def test_noise_augmentation_matches_diffusers(tiny_l, level):
    augmentor = tiny_l.noise_augmentor
    embeds = torch.randn(2, TINY_CLIP_IMAGE["embed_dim"])
    noise = torch.randn_like(embeds)
    noised, level_embedding = augmentor(embeds, torch.full((2,), level), noise)
    expected = _diffusers_noising(embeds, augmentor.data_mean, augmentor.data_std, level, noise)
    assert torch.allclose(torch.cat([noised, level_embedding], dim=1), expected, atol=1e-5)
    assert not torch.equal(augmentor.data_std, torch.ones_like(augmentor.data_std))  # the stats file was read


def _transformers_vision(embedder) -> torch.nn.Module:
    """transformers' CLIPVisionModelWithProjection on our tower's weights (OpenAI -> Hugging Face names)."""
    s = TINY_CLIP_IMAGE
    config = transformers.CLIPVisionConfig(hidden_size=s["width"], intermediate_size=4 * s["width"],
                                           num_hidden_layers=s["layers"], num_attention_heads=s["heads"],
                                           image_size=s["image_size"], patch_size=s["patch"],
                                           projection_dim=s["embed_dim"], hidden_act="quick_gelu",
                                           layer_norm_eps=1e-5)
    model = transformers.CLIPVisionModelWithProjection(config).eval()
    v = {k: t for k, t in embedder.model.visual.state_dict().items()}
    hf = {"vision_model.embeddings.patch_embedding.weight": v["conv1.weight"],
          "vision_model.embeddings.class_embedding": v["class_embedding"],
          "vision_model.embeddings.position_embedding.weight": v["positional_embedding"],
          "vision_model.pre_layrnorm.weight": v["ln_pre.weight"], "vision_model.pre_layrnorm.bias": v["ln_pre.bias"],
          "vision_model.post_layernorm.weight": v["ln_post.weight"],
          "vision_model.post_layernorm.bias": v["ln_post.bias"], "visual_projection.weight": v["proj"].T}
    names = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2",
             "attn.out_proj": "self_attn.out_proj"}
    for i in range(s["layers"]):
        ours, theirs = f"transformer.resblocks.{i}.", f"vision_model.encoder.layers.{i}."
        for a, b in names.items():
            for p in ("weight", "bias"):
                hf[f"{theirs}{b}.{p}"] = v[f"{ours}{a}.{p}"]
        for p in ("weight", "bias"):
            for name, part in zip("qkv", v[f"{ours}attn.in_proj_{p}"].chunk(3)):
                hf[f"{theirs}self_attn.{name}_proj.{p}"] = part
    missing, unexpected = model.load_state_dict(hf, strict=False)
    assert not unexpected and all("position_ids" in k for k in missing)
    return model


def test_unclip_l_tower_and_conditioning_match_diffusers_pipeline_parts(tiny_l):
    image = torch.rand(2, 3, 48, 40) * 2 - 1
    latent = torch.zeros(2, 4, 6, 5)
    ours = unclip_conditioning(tiny_l, image, latent, torch.Generator().manual_seed(7))
    pixels = tiny_l.embedder.preprocess(image)
    with torch.no_grad():
        embeds = _transformers_vision(tiny_l.embedder)(pixel_values=pixels).image_embeds
    noise = torch.randn(embeds.shape, generator=torch.Generator().manual_seed(7))
    augmentor = tiny_l.noise_augmentor
    expected = _diffusers_noising(embeds, augmentor.data_mean, augmentor.data_std, 0, noise)
    assert ours.shape == (2, 2 * TINY_CLIP_IMAGE["embed_dim"])
    assert torch.allclose(ours, expected, atol=1e-5)
    assert torch.equal(txt2img_unclip_conditioning(tiny_l, latent), torch.zeros_like(ours))


@pytest.mark.parametrize("shape", [(2, 3, 512, 384), (1, 3, 100, 300), (1, 3, 160, 224), (1, 3, 64, 48)])
def test_preprocess_resize_is_kornias(shape):
    kornia = pytest.importorskip("kornia")
    from modules.models.nets.clip_image import antialiased_resize

    x = torch.rand(*shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    expected = kornia.geometry.resize(x, (224, 224), interpolation="bicubic", align_corners=True, antialias=True)
    assert torch.allclose(antialiased_resize(x, (224, 224)), expected, atol=1e-5)


def test_unclip_h_tower_matches_open_clip(tmp_path):
    model = load_model(make_tiny_checkpoint("sd2-unclip-h", tmp_path))
    assert model.family == "sd2-unclip-h" and not model.noise_augmentor.clip_stats_path
    s = TINY_CLIP_IMAGE
    vision = open_clip.model.CLIPVisionCfg(layers=s["layers"], width=s["width"], head_width=s["width"] // s["heads"],
                                           patch_size=s["patch"], image_size=s["image_size"])
    text = open_clip.model.CLIPTextCfg(context_length=77, vocab_size=s["vocab_size"], width=s["text_width"],
                                       heads=s["text_heads"], layers=1)
    reference = open_clip.model.CLIP(s["embed_dim"], vision, text, quick_gelu=False).eval()
    ours = model.embedder.model.state_dict()
    theirs = reference.state_dict()
    reference.load_state_dict({k: ours.get(k, theirs[k]) for k in theirs})
    pixels = torch.randn(2, 3, s["image_size"], s["image_size"])
    with torch.no_grad():
        assert torch.allclose(model.embedder.model.visual(pixels), reference.encode_image(pixels), atol=1e-5)


def test_the_image_embedding_reaches_the_unet(tiny_l):
    latent = torch.randn(1, 4, 8, 8)
    context = tiny_l.get_learned_conditioning(["a cat"])
    adm = unclip_conditioning(tiny_l, torch.rand(1, 3, 64, 64) * 2 - 1, latent, torch.Generator().manual_seed(0))
    t = torch.tensor([500])
    with torch.no_grad():
        with_image = tiny_l.apply_model(latent, t, {"c_crossattn": [context], "c_adm": adm})
        without = tiny_l.apply_model(latent, t, {"c_crossattn": [context], "c_adm": torch.zeros_like(adm)})
    assert not torch.allclose(with_image, without)
    with pytest.raises(ValueError, match="c_adm"):
        tiny_l.apply_model(latent, t, {"c_crossattn": [context]})


def test_missing_karlo_stats_names_the_file_and_folder(tmp_path):
    path = make_tiny_checkpoint("sd2-unclip-l", tmp_path / "ckpt")
    folder = tmp_path / "models" / "karlo"
    with pytest.raises(CheckpointError, match=f"ViT-L-14_stats.th in {folder}"):
        load_model(path, LoadOptions(karlo_dir=folder))


@pytest.fixture(scope="module")
def tiny_l(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unclip")
    write_tiny_clip_stats(folder / "karlo")
    return load_model(make_tiny_checkpoint("sd2-unclip-l", folder / "ckpt"), LoadOptions(karlo_dir=folder / "karlo"))


def png_b64(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_txt2img_and_img2img_through_the_api(tmp_path):
    from modules.app_server import create_app
    from modules.runtime.bootstrap import initialize
    from tests.api.conftest import preserved_shared

    data_dir = tmp_path / "data"
    path = make_tiny_checkpoint("sd2-unclip-l", data_dir / "models" / "Stable-diffusion", name="unclip-tiny")
    karlo = data_dir / "models" / "karlo"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    rng = np.random.default_rng(0)
    pictures = [Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).resize((64, 64)) for _ in range(2)]
    body = {"prompt": "a cat", "negative_prompt": "", "steps": 2, "width": 64, "height": 64, "seed": 3,
            "sampler_name": "Euler", "cfg_scale": 7, "override_settings": {"sd_model_checkpoint": "unclip-tiny"}}
    with preserved_shared() as shared:
        initialize(["--data-dir", str(data_dir), "--nowebui"])  # no stats yet: the start-up load fails (logged)
        with TestClient(create_app(shared.cmd_opts, with_ui=False)) as client:
            refused = client.post("/sdapi/v1/txt2img", json=body)
            write_tiny_clip_stats(karlo)
            txt = client.post("/sdapi/v1/txt2img", json=body)
            img = [client.post("/sdapi/v1/img2img", json={**body, "init_images": [png_b64(p)],
                                                           "denoising_strength": 1.0}) for p in pictures]
        assert shared.sd_model.family == "sd2-unclip-l"
    assert refused.status_code == 422 and f"ViT-L-14_stats.th in {karlo}" in refused.text
    assert txt.status_code == 200, txt.text[:300]
    assert all(r.status_code == 200 for r in img), img[0].text[:300]
    for response in (txt, img[0]):
        infotext = json.loads(response.json()["info"])["infotexts"][0]
        assert f"Model hash: {digest}, Model: unclip-tiny" in infotext and "Seed: 3" in infotext
    assert "Denoising strength: 1.0" in json.loads(img[0].json()["info"])["infotexts"][0]
    assert img[0].json()["images"][0] != img[1].json()["images"][0]
