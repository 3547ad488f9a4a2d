"""The LDSR model (models/ldsr.py): released layout on meta, parity with diffusers, LDM's patch blending, DDIM.

References outside our code: diffusers' ``UNet2DModel`` and ``VQModel`` configured as the published
``ldm-super-resolution-4x-openimages`` conversion of the same ``bsr_sr`` model is (diffusers' LDM converter
maps our UNet keys; the legacy qkv layout is split per head here), diffusers' ``DDIMScheduler`` with LDM's
conventions (leading spacing, offset 1, alpha at step 0 for the last step) for the sampling loop, and the
algebra of LDM's window blending (a per-pixel model must come out exactly as if applied whole).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from modules.models.checkpoint_io import CheckpointError
from modules.models.config_registry import ConfigError
from modules.models.ldsr import (PatchGrid, build_ldsr, ddim_timesteps, ema_key, ldsr_weights, load_ldsr, sample,
                                 super_resolution)
from modules.models.tiny_factory import LDSR_PROJECT, make_tiny_ldsr, tiny_ldsr_config

single_file = pytest.importorskip("diffusers.loaders.single_file_utils")
diffusers = pytest.importorskip("diffusers")

UNET = "model.diffusion_model."
VQ = "first_stage_model."


def unet_config(params: dict, sample_size: int) -> dict:
    """diffusers' UNet2DModel config for an LDM pixel-attention UNet (as the published LDSR conversion has it)."""
    mult = params["channel_mult"]
    ds = [2 ** i for i in range(len(mult))]
    attn = [d in params["attention_resolutions"] for d in ds]
    return dict(sample_size=sample_size, in_channels=params["in_channels"], out_channels=params["out_channels"],
                block_out_channels=[params["model_channels"] * m for m in mult],
                layers_per_block=params["num_res_blocks"],
                down_block_types=["AttnDownBlock2D" if a else "DownBlock2D" for a in attn],
                up_block_types=["AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn)],
                attention_head_dim=params["num_head_channels"], flip_sin_to_cos=True, freq_shift=0)


def vq_config(params: dict) -> dict:
    dd = params["ddconfig"]
    levels = len(dd["ch_mult"])
    return dict(in_channels=3, out_channels=3, latent_channels=dd["z_channels"], vq_embed_dim=params["embed_dim"],
                num_vq_embeddings=params["n_embed"], block_out_channels=[dd["ch"] * m for m in dd["ch_mult"]],
                layers_per_block=dd["num_res_blocks"], down_block_types=["DownEncoderBlock2D"] * levels,
                up_block_types=["UpDecoderBlock2D"] * levels)


def to_diffusers_unet(sd: dict, layers_per_block: int, head_channels: int) -> dict:
    """diffusers' LDM converter, then the pixel attention: legacy qkv (per head: q, k, v) to to_q/to_k/to_v."""
    converted = single_file.convert_ldm_unet_checkpoint(dict(sd), {"layers_per_block": layers_per_block})
    out = {}
    for key, value in converted.items():
        prefix, _, name = key.rpartition(".")
        block, _, layer = prefix.rpartition(".")
        if ".attentions." not in key:
            out[key] = value
        elif layer == "norm":
            out[f"{block}.group_norm.{name}"] = value
        elif layer == "proj_out":
            out[f"{block}.to_out.0.{name}"] = value.reshape(value.shape[0], -1) if name == "weight" else value
        elif layer == "qkv":
            channels = value.shape[0] // 3
            parts = value.reshape(channels // head_channels, 3, head_channels, -1)
            for i, proj in enumerate(("to_q", "to_k", "to_v")):
                part = parts[:, i].reshape(channels, -1)
                out[f"{block}.{proj}.{name}"] = part if name == "weight" else part.reshape(channels)
        else:
            raise AssertionError(key)
    return out


def to_diffusers_vq(sd: dict, config: dict) -> dict:
    converted = single_file.convert_ldm_vae_checkpoint({"first_stage_model." + k: v for k, v in sd.items()
                                                        if not k.startswith("quantize.")}, config)
    converted["quantize.embedding.weight"] = sd["quantize.embedding.weight"]
    return converted


def part(sd: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def test_released_layout_on_meta_equals_diffusers():
    with torch.device("meta"):
        model = build_ldsr(LDSR_PROJECT)
    sd = model.state_dict()
    params = LDSR_PROJECT["model"]["params"]
    unet_params = params["unet_config"]["params"]
    with torch.device("meta"):
        ref_unet = diffusers.UNet2DModel(**unet_config(unet_params, 256)).state_dict()
        ref_vq = diffusers.VQModel(**vq_config(params["first_stage_config"]["params"])).state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours_unet = to_diffusers_unet({k: v for k, v in sd.items() if k.startswith(UNET)}, 2, 32)
        ours_vq = to_diffusers_vq(part(sd, VQ), vq_config(params["first_stage_config"]["params"]))
    assert {k: tuple(v.shape) for k, v in ours_unet.items()} == {k: tuple(v.shape) for k, v in ref_unet.items()}
    assert {k: tuple(v.shape) for k, v in ours_vq.items()} == {k: tuple(v.shape) for k, v in ref_vq.items()}
    # every key has its counterpart: 6 pixel attentions (2 down, 1 middle, 3 up) have 3 projections in one
    assert len(sd) + 6 * (10 - 6) == len(ref_unet) + len(ref_vq)
    # the released sizes: a 160-wide UNet with 20-head attention at 1/8, an f4 codebook of 8192 x 3
    assert tuple(sd[UNET + "input_blocks.0.0.weight"].shape) == (160, 6, 3, 3)
    assert tuple(sd[UNET + "middle_block.1.qkv.weight"].shape) == (1920, 640, 1)
    assert tuple(sd[VQ + "quantize.embedding.weight"].shape) == (8192, 3)
    assert model.model.diffusion_model.middle_block[1].num_heads == 20


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ldsr")
    path = make_tiny_ldsr(folder)
    return load_ldsr(path, folder / "project.yaml")


@pytest.fixture(scope="module")
def reference(tiny):
    params = tiny_ldsr_config()["model"]["params"]
    unet_params = params["unet_config"]["params"]
    sd = tiny.state_dict()
    unet = diffusers.UNet2DModel(**unet_config(unet_params, 32)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unet.load_state_dict(to_diffusers_unet({k: v for k, v in sd.items() if k.startswith(UNET)},
                                               unet_params["num_res_blocks"], unet_params["num_head_channels"]))
        config = vq_config(params["first_stage_config"]["params"])
        vq = diffusers.VQModel(**config).eval()
        vq.load_state_dict(to_diffusers_vq(part(sd, VQ), config))
    return unet, vq


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return ((ours - ref).abs().max() / ref.abs().max()).item()


def test_unet_and_vq_match_diffusers(tiny, reference):
    unet, vq = reference
    torch.manual_seed(0)
    x = torch.randn(2, 6, 32, 32)
    t = torch.tensor([3, 640])
    z = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert rel_err(tiny.model.diffusion_model(x, t), unet(x, t).sample) < 1e-4
        assert rel_err(tiny.first_stage_model.decode(z), vq.decode(z).sample) < 1e-4
        assert rel_err(tiny.first_stage_model.decode(z, force_not_quantize=True),
                       vq.decode(z, force_not_quantize=True).sample) < 1e-4
        image = torch.rand(1, 3, 64, 64) * 2 - 1
        assert rel_err(tiny.first_stage_model.encode(image), vq.encode(image).latents) < 1e-4


def test_ddim_loop_matches_diffusers_scheduler(tiny, reference):
    """A latent smaller than LDM's window is one window: our sampler against diffusers' DDIM on the same noise."""
    unet, _ = reference
    lr = torch.rand(1, 3, 32, 32) * 2 - 1
    steps = 7  # does not divide 1000: LDM (and diffusers' leading spacing) run 8 steps of 142
    ours = sample(tiny, lr, steps, generator=torch.Generator().manual_seed(5))
    scheduler = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_start=0.0015, beta_end=0.0155,
                                        beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False,
                                        steps_offset=1, timestep_spacing="leading")
    scheduler.set_timesteps(steps)  # the stride between steps (1000 // 7 = 142) as diffusers derives it
    assert scheduler.timesteps.tolist() == ddim_timesteps(steps)[::-1].tolist()[1:]
    # LDM's extra first step (995): diffusers' step math is the same for it (previous step 995 - 142)
    scheduler.timesteps = torch.from_numpy(ddim_timesteps(steps)[::-1].copy())
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(1, 3, 32, 32, generator=generator)
    with torch.no_grad():
        for t in scheduler.timesteps:
            eps = unet(torch.cat([x, lr], dim=1), t).sample
            noise = torch.randn(x.shape, generator=generator)
            x = scheduler.step(eps, t, x, eta=1.0, variance_noise=noise).prev_sample
    assert rel_err(ours, x) < 1e-4


def test_ddim_steps_are_ldms():
    assert ddim_timesteps(100).tolist() == list(range(1, 1000, 10))
    assert ddim_timesteps(7).tolist()[:3] == [1, 143, 285] and len(ddim_timesteps(7)) == 8
    assert ddim_timesteps(3).tolist() == [1, 334, 667, 999]  # LDM's index 1000 (A1111's IndexError) held at 999
    with pytest.raises(ValueError, match="between 1 and 1000"):
        ddim_timesteps(0)


def test_window_blending_gives_a_per_pixel_model_back_exactly():
    """Any per-pixel model applied window by window and blended with LDM's weights equals it applied whole."""
    torch.manual_seed(1)
    x = torch.randn(1, 3, 256, 192)
    mix = torch.randn(3, 3)

    def per_pixel(t: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bchw,dc->bdhw", t, mix).tanh()

    grid = PatchGrid(256, 192, (128, 128), (64, 64), 1, x.device, x.dtype)
    parts = grid.split(x)
    assert len(parts) == 3 * 2
    assert torch.allclose(grid.merge([per_pixel(p) for p in parts]), per_pixel(x), atol=1e-5)
    # the decoder's grid: windows on the latent, outputs 4x larger, blended at the picture's scale
    up = PatchGrid(256, 192, (128, 128), (64, 64), 4, x.device, x.dtype)
    upscaled = [torch.nn.functional.interpolate(per_pixel(p), scale_factor=4, mode="nearest") for p in up.split(x)]
    whole = torch.nn.functional.interpolate(per_pixel(x), scale_factor=4, mode="nearest")
    assert torch.allclose(up.merge(upscaled), whole, atol=1e-5)


def test_windows_are_weighted_towards_their_centres():
    grid = PatchGrid(256, 128, (128, 128), (64, 64), 1, torch.device("cpu"), torch.float32)
    weights = grid.weighting[0, 0, :, :, 0]
    # distance to the nearest border as a fraction of the window (LDM: 0..127 -> 0..1), clipped to 0.01..0.5
    assert weights[0, 0] == pytest.approx(0.01) and weights[64, 64] == pytest.approx(63 / 127)
    assert weights[30, 100] == pytest.approx(27 / 127) and weights.max() < 0.5
    # a pixel only the first window covers takes it whole; where windows overlap, the nearer centre counts more
    assert grid.normalization[0, 0, 10, 10] == pytest.approx(weights[10, 10].item())


def test_ema_weights_are_the_ones_that_generate(tmp_path):
    path = make_tiny_ldsr(tmp_path, seed=3)
    model = load_ldsr(path, tmp_path / "project.yaml")
    sd = torch.load(path, weights_only=True)["state_dict"]
    key = UNET + "input_blocks.0.0.weight"
    assert torch.equal(model.state_dict()[key], sd[ema_key(key)])
    assert not torch.equal(model.state_dict()[key], sd[key])
    assert ema_key(key) == "model_ema.diffusion_modelinput_blocks00weight"  # LitEma's shadow name
    # without shadows the raw weights are used
    raw = {k: v for k, v in sd.items() if not k.startswith("model_ema.")}
    assert torch.equal(ldsr_weights(raw, model, "file")[key], sd[key])
    raw.pop(key)
    with pytest.raises(CheckpointError, match="file: 1 LDSR weight"):
        ldsr_weights(raw, model, "file")


def test_wrong_yaml_is_refused():
    config = tiny_ldsr_config()
    config["model"]["params"]["cond_stage_config"] = {"target": "ldm.modules.encoders.modules.FrozenCLIPEmbedder"}
    with pytest.raises(ConfigError, match="torch.nn.Identity"):
        build_ldsr(config)
    config = tiny_ldsr_config()
    config["model"]["params"]["first_stage_config"]["params"]["ddconfig"]["ch_mult"] = [1, 1]
    with pytest.raises(ConfigError, match="downscales by 2; LDSR needs 4"):
        build_ldsr(config)
    config = tiny_ldsr_config()
    config["model"]["params"]["unet_config"]["params"]["use_scale_shift_norm"] = True
    with pytest.raises(ConfigError, match="use_scale_shift_norm"):
        build_ldsr(config)


def test_super_resolution_sizes_and_padding(tiny):
    """A1111's geometry: scale 2 = Lanczos to half then 4x; padding to 64 (at least 128) removed again."""
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (30, 44, 3), dtype=np.uint8))
    out = super_resolution(tiny, image, steps=1, target_scale=2, generator=torch.Generator().manual_seed(0))
    assert out.size == (88, 60)
    assert np.asarray(out).std() > 0
