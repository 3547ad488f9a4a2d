"""SD3 Medium: the MMDiT and the 16-channel VAE against diffusers on the same weights, the flow schedule and Euler
against diffusers' flow-matching scheduler, the text conditioning against transformers' CLIPs, and the released
single-file layout at full size on the meta device against what diffusers' single-file converter expects."""
from __future__ import annotations

import pytest
import torch

from modules.models.checkpoint_io import CheckpointError
from modules.models.config_registry import build_from_config
from modules.models.detection import detect, shape_table
from modules.models.loader import LoadOptions, build_on_meta, detect_checkpoint, load_model
from modules.models.model_config import bundled_config
from modules.models.nets.autoencoder import AutoencoderKL
from modules.models.nets.mmdit import MMDiT, mmdit_sizes
from modules.models.sd3_model import VAE_SCALE, VAE_SHIFT, flow_sigmas
from modules.models.tiny_sd3 import make_tiny_sd3_checkpoint, tiny_sd3_config
from modules.models.tokenizer import EOS_ID
from modules.sampling.denoisers import DiscreteFlowDenoiser, make_kdiffusion_denoiser

single_file = pytest.importorskip("diffusers.loaders.single_file_utils")
diffusers = pytest.importorskip("diffusers")

SD3_MEDIUM = dict(sample_size=128, patch_size=2, in_channels=16, num_layers=24, attention_head_dim=64,
                  num_attention_heads=24, joint_attention_dim=4096, caption_projection_dim=1536,
                  pooled_projection_dim=2048, out_channels=16, pos_embed_max_size=192)
"""diffusers' configuration of stabilityai/stable-diffusion-3-medium-diffusers' transformer."""

SD3_VAE = dict(in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(128, 256, 512, 512),
               layers_per_block=2, down_block_types=("DownEncoderBlock2D",) * 4,
               up_block_types=("UpDecoderBlock2D",) * 4, use_quant_conv=False, use_post_quant_conv=False,
               scaling_factor=VAE_SCALE, shift_factor=VAE_SHIFT)
"""diffusers' configuration of SD3 Medium's VAE."""


def _randomize(module: torch.nn.Module, seed: int, std: float = 0.2) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * std)


def _diffusers_transformer(ours: MMDiT, **config) -> torch.nn.Module:
    sd = {"model.diffusion_model." + k: v.clone() for k, v in ours.state_dict().items()}
    converted = single_file.convert_sd3_transformer_checkpoint_to_diffusers(sd)
    reference = diffusers.SD3Transformer2DModel(**config)
    reference.load_state_dict(converted, strict=True)
    return reference.eval()


TINY_DIFFUSERS = dict(sample_size=8, patch_size=2, in_channels=16, num_layers=3, attention_head_dim=16,
                      num_attention_heads=3, joint_attention_dim=40, caption_projection_dim=48,
                      pooled_projection_dim=24, out_channels=16, pos_embed_max_size=8)


def test_mmdit_matches_diffusers_sd3_transformer():
    ours = MMDiT(depth=3, patch_size=2, in_channels=16, pos_embed_max_size=8, adm_in_channels=24, context_dim=40,
                 head_width=16).eval()
    _randomize(ours, 1)
    reference = _diffusers_transformer(ours, **TINY_DIFFUSERS)
    torch.manual_seed(0)
    # a non-square latent smaller than the position grid: the centre crop is exercised
    x, ctx, y = torch.randn(2, 16, 6, 10), torch.randn(2, 7, 40), torch.randn(2, 24)
    t = torch.tensor([997.0, 31.5])
    with torch.no_grad():
        got = ours(x, t, ctx, y)
        want = reference(hidden_states=x, encoder_hidden_states=ctx, pooled_projections=y, timestep=t).sample
    assert got.shape == x.shape
    assert ((got - want).abs().max() / want.abs().max()).item() < 1e-5
    with torch.no_grad():  # an odd latent (a UI size in 8-pixel steps): edge-padded to whole patches, then cropped
        odd = ours(x[:, :, :5, :9], t, ctx, y)
        padded = ours(torch.nn.functional.pad(x[:, :, :5, :9], (0, 1, 0, 1), mode="replicate"), t, ctx, y)
    assert odd.shape == (2, 16, 5, 9) and torch.equal(odd, padded[:, :, :5, :9])


def test_vae_16_channels_matches_diffusers_with_sd3_latent_format():
    config = tiny_sd3_config()
    model = build_from_config(config, "tiny sd3")
    vae = model.first_stage_model
    assert not hasattr(vae, "quant_conv") and not hasattr(vae, "post_quant_conv")
    _randomize(vae, 2, std=0.1)
    sd = {"first_stage_model." + k: v for k, v in vae.state_dict().items()}
    ref_config = dict(SD3_VAE, block_out_channels=(32, 32, 32, 32), layers_per_block=1)
    reference = diffusers.AutoencoderKL(**ref_config).eval()
    reference.load_state_dict(single_file.convert_ldm_vae_checkpoint(sd, ref_config), strict=True)
    torch.manual_seed(3)
    latents = torch.randn(1, 16, 4, 6)
    image = torch.rand(1, 3, 32, 48) * 2 - 1
    with torch.no_grad():
        got = model.decode_first_stage(latents)
        # diffusers' StableDiffusion3Pipeline: latents / scaling_factor + shift_factor, then decode
        want = reference.decode(latents / reference.config.scaling_factor + reference.config.shift_factor).sample
        mean = vae.encode(image).mean
        want_mean = reference.encode(image).latent_dist.mean
    assert (got - want).abs().max().item() < 1e-4
    assert (mean - want_mean).abs().max().item() < 1e-4


def test_flow_sigmas_are_diffusers_shift_3_schedule():
    scheduler = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0)
    ours = flow_sigmas(3.0)
    assert torch.allclose(ours, scheduler.sigmas.flip(0).float(), atol=1e-6)
    assert ours[-1].item() == 1.0 and abs(ours[0].item() - 3 * 0.001 / (1 + 2 * 0.001)) < 1e-7


def test_euler_on_the_flow_denoiser_matches_diffusers_flow_match_euler(tmp_path):
    """txt2img's start (noise x sigma_max = 1) and Euler steps over our denoiser, against diffusers' scheduler
    driving diffusers' transformer on the same weights and conditioning."""
    from modules.sampling.samplers_karras import sample_euler

    model = load_model(make_tiny_sd3_checkpoint(tmp_path))
    denoiser = make_kdiffusion_denoiser(model)
    assert isinstance(denoiser, DiscreteFlowDenoiser)
    reference = _diffusers_transformer(model.model.diffusion_model, **dict(
        TINY_DIFFUSERS, num_layers=2, num_attention_heads=2, joint_attention_dim=4096, caption_projection_dim=32,
        pooled_projection_dim=64, pos_embed_max_size=32))
    with torch.no_grad():
        cond = model.get_learned_conditioning(["a red cube"])
        sigmas = denoiser.get_sigmas(5)
        noise = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(5))
        got = sample_euler(denoiser, noise * sigmas[0], sigmas, extra_args={"cond": cond}, disable=True)

        scheduler = diffusers.FlowMatchEulerDiscreteScheduler(shift=1.0)
        scheduler.set_timesteps(sigmas=sigmas[:-1].tolist())
        x = noise.clone()
        for t in scheduler.timesteps:
            v = reference(hidden_states=x, encoder_hidden_states=cond["crossattn"],
                          pooled_projections=cond["vector"], timestep=t[None]).sample
            x = scheduler.step(v, t, x).prev_sample
    assert sigmas[0].item() == pytest.approx(1.0)
    assert (got - x).abs().max().item() < 1e-4


def test_img2img_noising_is_the_flow_interpolation(tmp_path):
    model = load_model(make_tiny_sd3_checkpoint(tmp_path))
    x, noise = torch.ones(1, 16, 2, 2), torch.zeros(1, 16, 2, 2)
    assert torch.allclose(model.add_noise_to_latent(x, noise, torch.tensor(0.25)), torch.full_like(x, 0.75))
    assert model.fix_dimensions(1000, 777) == (992, 768)


def test_text_conditioning_is_clip_l_and_g_penultimate_with_zero_t5(tmp_path):
    model = load_model(make_tiny_sd3_checkpoint(tmp_path))
    encoders = model.text_encoders
    with torch.no_grad():
        cond = model.get_learned_conditioning(["a cat on a mat", ""])
        tokens = torch.tensor([[49406, *encoders.clip_l.tokenizer.encode("a cat on a mat"), EOS_ID]
                               + [EOS_ID] * 70, [49406, EOS_ID] + [EOS_ID] * 75])
        l_out = encoders.clip_l.transformer.text_model(input_ids=tokens, output_hidden_states=True)
        tokens_g = tokens.clone()
        for row in tokens_g:
            row[int((row == EOS_ID).nonzero()[0]) + 1:] = 0
        g_out = encoders.clip_g.transformer(input_ids=tokens_g, output_hidden_states=True)
    crossattn, vector = cond["crossattn"], cond["vector"]
    l_width, g_width = encoders.clip_l.width, encoders.clip_g.width
    assert crossattn.shape == (2, 154, 4096) and vector.shape == (2, l_width + g_width)
    assert torch.allclose(crossattn[:, :77, :l_width], l_out.hidden_states[-2], atol=1e-5)
    assert torch.allclose(crossattn[:, :77, l_width:l_width + g_width], g_out.hidden_states[-2], atol=1e-5)
    assert crossattn[:, :77, l_width + g_width:].abs().max() == 0  # padding of the CLIP part to 4096
    assert crossattn[:, 77:].abs().max() == 0  # T5-XXL's part: zeros with sd3_enable_t5 off (A1111)
    assert torch.allclose(vector, torch.cat([l_out.pooler_output, g_out.text_embeds], dim=-1), atol=1e-5)


def test_checkpoint_without_text_encoders_reads_them_from_models_clip(tmp_path):
    clip_dir = tmp_path / "CLIP"
    full = load_model(make_tiny_sd3_checkpoint(tmp_path, name="full"))
    bare = make_tiny_sd3_checkpoint(tmp_path, name="bare", text_encoders=False, clip_dir=clip_dir)
    with pytest.raises(CheckpointError, match="no clip_l text encoder"):
        load_model(bare)
    (clip_dir / "clip_g.safetensors").rename(tmp_path / "elsewhere.safetensors")
    with pytest.raises(CheckpointError, match=f"put clip_g.safetensors in {clip_dir}"):
        load_model(bare, LoadOptions(text_encoder_dir=clip_dir))
    (tmp_path / "elsewhere.safetensors").rename(clip_dir / "clip_g.safetensors")
    model = load_model(bare, LoadOptions(text_encoder_dir=clip_dir))
    with torch.no_grad():
        a = model.get_learned_conditioning(["a dog"])
        b = full.get_learned_conditioning(["a dog"])
    # same weights from another file: equal up to float rounding of differently laid out tensors
    assert torch.allclose(a["crossattn"], b["crossattn"], atol=1e-6)
    assert torch.allclose(a["vector"], b["vector"], atol=1e-6)


def test_tiny_checkpoint_detected_and_loaded_without_its_yaml(tmp_path):
    path = make_tiny_sd3_checkpoint(tmp_path)
    assert load_model(path).family == "sd3"
    path.with_suffix(".yaml").unlink()
    choice = detect_checkpoint(path)
    assert (choice.family, choice.path.name) == ("sd3", "sd3-inference.yaml")


# --- the released layout, full size, on meta ---------------------------------------------------------------

def _released_shapes() -> dict[str, tuple[int, ...]]:
    """SD3 Medium's single file with its CLIPs, built from our architecture on meta."""
    with torch.device("meta"):
        mmdit = MMDiT(depth=24)
        vae = AutoencoderKL(embed_dim=16, ch=128, ch_mult=[1, 2, 4, 4], num_res_blocks=2, z_channels=16,
                            use_quant_conv=False)
    shapes = {f"model.diffusion_model.{k}": tuple(v.shape) for k, v in mmdit.state_dict().items()}
    shapes.update({f"first_stage_model.{k}": tuple(v.shape) for k, v in vae.state_dict().items()})
    return shapes


def test_released_mmdit_layout_is_what_diffusers_converts_for_sd3_medium():
    shapes = _released_shapes()
    meta = {k: torch.empty(s, device="meta") for k, s in shapes.items()}
    # diffusers' own model-type probe names it SD3 Medium from the adaLN width (9216) and the 192x192 grid
    assert single_file.infer_diffusers_model_type(meta) == "sd3"
    assert shapes["model.diffusion_model.pos_embed"] == (1, 36864, 1536)
    assert shapes["model.diffusion_model.x_embedder.proj.weight"] == (1536, 16, 2, 2)
    assert shapes["model.diffusion_model.joint_blocks.23.context_block.adaLN_modulation.1.weight"] == (3072, 1536)
    assert "model.diffusion_model.joint_blocks.23.context_block.attn.proj.weight" not in shapes
    # 20 tensors per joint block, 6 fewer in the last (its text stream is pre-only), 17 outside the blocks
    assert sum(1 for k in shapes if k.startswith("model.diffusion_model.")) == 24 * 20 - 6 + 17
    mmdit_part = {k: v for k, v in meta.items() if k.startswith("model.diffusion_model.")}
    converted = single_file.convert_sd3_transformer_checkpoint_to_diffusers(dict(mmdit_part))
    with torch.device("meta"):
        reference = diffusers.SD3Transformer2DModel(**SD3_MEDIUM)
    expected = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in converted.items()} == expected


def test_released_vae_layout_is_what_diffusers_converts_for_sd3():
    shapes = _released_shapes()
    meta = {k: torch.empty(s, device="meta") for k, s in shapes.items() if k.startswith("first_stage_model.")}
    converted = single_file.convert_ldm_vae_checkpoint(meta, SD3_VAE)
    with torch.device("meta"):
        reference = diffusers.AutoencoderKL(**SD3_VAE)
    assert {k: tuple(v.shape) for k, v in converted.items()} == \
        {k: tuple(v.shape) for k, v in reference.state_dict().items()}


def test_released_layout_builds_on_meta_from_the_bundled_yaml_and_loads_clips_as_diffusers_does():
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from modules.models.nets.clip_text import clip_text_config
    from modules.models.nets.sd3_text import CLIP_G_SIZES, CLIP_L_SIZES

    shapes = _released_shapes()
    assert detect(shapes).family == "sd3"
    model = build_on_meta(bundled_config("sd3-inference.yaml"), shapes=shapes)
    assert mmdit_sizes(shapes) == dict(depth=24, patch_size=2, in_channels=16, pos_embed_max_size=192,
                                       adm_in_channels=2048, context_dim=4096, head_width=64)
    ours = shape_table(model.state_dict())
    assert {k: v for k, v in ours.items() if not k.startswith("text_encoders.")} == shapes
    # the CLIPs in the file: diffusers strips "text_encoders.clip_l.transformer." / "...clip_g..." and loads the
    # rest into transformers' CLIPTextModel / CLIPTextModelWithProjection
    for name, cls, sizes, act in (("clip_l", CLIPTextModel, CLIP_L_SIZES, "quick_gelu"),
                                  ("clip_g", CLIPTextModelWithProjection, CLIP_G_SIZES, "gelu")):
        meta = {k: torch.empty(v, device="meta") for k, v in ours.items() if k.startswith(f"text_encoders.{name}.")}
        assert single_file.CHECKPOINT_KEY_NAMES[f"{'open_' if name == 'clip_g' else ''}clip_sd3"] in meta
        converted = single_file.convert_ldm_clip_checkpoint(meta, f"text_encoders.{name}.transformer.")
        config = clip_text_config(**sizes)
        config.hidden_act = act
        with torch.device("meta"):
            reference = cls(config)
        expected = {k: tuple(v.shape) for k, v in reference.state_dict().items() if not k.endswith("position_ids")}
        if name == "clip_l":  # transformers 5 flattened CLIPTextModel; the file keeps text_model.*
            expected = {f"text_model.{k}" if not k.startswith("text_model.") else k: v for k, v in expected.items()}
        assert {k: tuple(v.shape) for k, v in converted.items()} == expected


def test_fp8_storage_runs_the_mmdit_in_its_compute_dtype(tmp_path):
    from modules.models.fp8_storage import Fp8Settings

    path = make_tiny_sd3_checkpoint(tmp_path)
    plain, fp8 = load_model(path), load_model(path, LoadOptions(fp8=Fp8Settings(mode="Enable")))
    net = fp8.model.diffusion_model
    assert fp8.fp8 and net.joint_blocks[0].x_block.attn.qkv.weight.dtype == torch.float8_e4m3fn
    assert net.dtype == torch.float32  # the layers' compute dtype, not the fp8 storage
    x = torch.randn(1, 16, 4, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        cond = plain.get_learned_conditioning(["a"])
        want, got = plain.apply_model(x, torch.tensor([0.5]), cond), fp8.apply_model(x, torch.tensor([0.5]), cond)
    assert got.dtype == torch.float32 and 0 < (got - want).abs().max() < 0.1 * want.abs().max()


def test_sd3_preview_decoders_take_16_channels_from_their_own_files(tmp_path):
    from modules.models.preview_decoders import VAEApprox, load_preview_decoder, preview_file, taesd_decoder

    assert preview_file("Approx NN", str(tmp_path), False, is_sd3=True).endswith("VAE-approx/vaeapprox-sd3.pt")
    assert preview_file("TAESD", str(tmp_path), True, is_sd3=True).endswith("VAE-taesd/taesd3_decoder.pth")
    assert load_preview_decoder("TAESD", str(tmp_path), False, is_sd3=True) is None  # missing: never downloaded
    for kind, net, name in (("Approx NN", VAEApprox(16), "VAE-approx/vaeapprox-sd3.pt"),
                            ("TAESD", taesd_decoder(16), "VAE-taesd/taesd3_decoder.pth")):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), tmp_path / name)
        decoder = load_preview_decoder(kind, str(tmp_path), False, is_sd3=True)
        out = decoder(torch.randn(1, 16, 4, 4))
        assert out.shape[:2] == (1, 3) and 0 <= out.min() and out.max() <= 1


@pytest.mark.parametrize("mode", ["medvram", "lowvram"])
def test_memory_modes_stream_the_joint_blocks_with_identical_outputs(tmp_path, mode):
    from types import SimpleNamespace

    from modules.models.memory.placement import MemoryManager
    from modules.models.memory.policy import DeviceBudget, Mode
    from modules.models.memory.units import part_sizes

    model = load_model(make_tiny_sd3_checkpoint(tmp_path))
    for tensor in model.state_dict(keep_vars=True).values():
        tensor.data = tensor.data.clone()  # aligned copies compute like the streamed ones (see test_memory_placement)

    def run():
        with torch.no_grad():
            cond = model.get_learned_conditioning(["a cat"])
            x = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(0))
            denoised = model.apply_model(x, torch.tensor([0.7]), cond)
            return cond["crossattn"], denoised, model.decode_first_stage(denoised)

    reference = run()
    sizes = part_sizes(model)
    assert set(sizes.blocks) == {"joint_blocks.0", "joint_blocks.1"}
    memory = MemoryManager("cpu", opts=SimpleNamespace(memory_reserve_mb=0), log=lambda line: None)
    memory.configure(mode=Mode(mode), budget=DeviceBudget(free=2 ** 40, total=2 ** 40), copy_on_cpu=True)
    memory.attach(model)
    for got, want in zip(run(), reference):
        assert torch.equal(got, want)
    assert memory.moves > 0
    memory.detach(model)
