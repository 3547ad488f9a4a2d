"""SD3's T5-XXL: built only with ``sd3_enable_t5`` and its files present, its tokens as A1111's ``Sd3T5`` makes them,
its output against transformers' T5 encoder on the same weights, and the released key layout at full size."""
from __future__ import annotations

import types

import pytest
import torch
from transformers import T5EncoderModel

from modules.models.loader import LoadOptions, build_on_meta, load_model
from modules.models.model_config import bundled_config
from modules.models.nets.t5 import T5Tokenizer, t5_config
from modules.models.tiny_sd3 import TINY_T5, make_tiny_sd3_checkpoint, write_tiny_t5_tokenizer
from modules.prompting.model_conditioning import attach_text_conditioning, detach_text_conditioning

single_file = pytest.importorskip("diffusers.loaders.single_file_utils")


@pytest.fixture()
def files(tmp_path):
    clip_dir = tmp_path / "CLIP"
    tokenizer = write_tiny_t5_tokenizer(clip_dir / "t5xxl_tokenizer.json")
    return make_tiny_sd3_checkpoint(tmp_path, t5=True), clip_dir, T5Tokenizer(tokenizer)


def _reference_t5(path) -> T5EncoderModel:
    from safetensors.torch import load_file

    prefix = "text_encoders.t5xxl.transformer."
    reference = T5EncoderModel(t5_config(**TINY_T5)).eval()
    reference.load_state_dict({k[len(prefix):]: v for k, v in load_file(str(path)).items() if k.startswith(prefix)})
    return reference


def test_t5_part_is_t5_over_a1111s_tokens_with_emphasis_parsed_and_break_dropped(files):
    path, clip_dir, tokenizer = files
    model = load_model(path, LoadOptions(text_encoder_dir=clip_dir, enable_t5=True))
    opts = types.SimpleNamespace(emphasis="Original", sd3_enable_t5=True)
    attach_text_conditioning(model, lambda: opts)
    prompt = "a photo of a (red cube:1.3) BREAK on a mat"
    # A1111's Sd3T5.tokenize_line: each parsed piece tokenized alone, BREAK left out, the end id, padding to the
    # CLIP part's length (77 per chunk; BREAK makes two chunks here)
    ids = tokenizer.encode("a photo of a ") + tokenizer.encode("red cube") + tokenizer.encode("") \
        + tokenizer.encode("on a mat") + [1]
    ids += [0] * (154 - len(ids))
    with torch.no_grad():
        cond = model.get_learned_conditioning([prompt])
        want = _reference_t5(path)(input_ids=torch.tensor([ids])).last_hidden_state
    crossattn = cond["crossattn"]
    assert crossattn.shape == (1, 2 * 154, 4096)
    assert torch.allclose(crossattn[:, 154:, :32], want, atol=1e-5)
    assert crossattn[:, 154:, 32:].abs().max() == 0  # the tiny T5 is 32 wide; the sequence stays 4096 wide
    # the setting turned off after loading: zeros again (A1111 checks it at every encode)
    opts.sd3_enable_t5 = False
    with torch.no_grad():
        assert model.get_learned_conditioning([prompt])["crossattn"][:, 154:].abs().max() == 0
    detach_text_conditioning(model)
    assert model.text_encoders.t5_enabled is None


def test_long_prompt_is_cut_to_the_clip_part_length(files):
    path, clip_dir, tokenizer = files
    model = load_model(path, LoadOptions(text_encoder_dir=clip_dir, enable_t5=True))
    tokens = model.text_encoders.t5_tokens("cat " * 100, 77)
    assert tokens == tokenizer.encode("cat " * 100)[:77] and len(tokens) == 77


def test_t5_off_or_missing_files_leave_zeros_and_no_t5(files, tmp_path, capsys):
    path, clip_dir, _ = files
    off = load_model(path, LoadOptions(text_encoder_dir=clip_dir, enable_t5=False))
    assert off.text_encoders.t5xxl is None
    (clip_dir / "t5xxl_tokenizer.json").unlink()
    no_tokenizer = load_model(path, LoadOptions(text_encoder_dir=clip_dir, enable_t5=True))
    assert no_tokenizer.text_encoders.t5xxl is None
    assert f"t5xxl_tokenizer.json not found in {clip_dir}" in capsys.readouterr().out
    bare = make_tiny_sd3_checkpoint(tmp_path, name="no-t5")
    write_tiny_t5_tokenizer(clip_dir / "t5xxl_tokenizer.json")
    no_weights = load_model(bare, LoadOptions(text_encoder_dir=clip_dir, enable_t5=True))
    assert no_weights.text_encoders.t5xxl is None
    assert f"t5xxl_fp16.safetensors not found in {clip_dir}" in capsys.readouterr().out
    with torch.no_grad():
        assert no_weights.get_learned_conditioning(["a cat"])["crossattn"][:, 77:].abs().max() == 0


def test_t5_weights_from_models_clip(files, tmp_path):
    from safetensors.torch import load_file, save_file

    path, clip_dir, _ = files
    prefix = "text_encoders.t5xxl.transformer."
    sd = load_file(str(path))
    # the separate file as A1111 downloads it: transformers' keys, one name of the tied token table
    save_file({k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix) and "embed_tokens" not in k},
              str(clip_dir / "t5xxl_fp16.safetensors"))
    save_file({k: v for k, v in sd.items() if not k.startswith(prefix)}, str(tmp_path / "no-t5.safetensors"))
    (tmp_path / "no-t5.yaml").write_text(path.with_suffix(".yaml").read_text())
    separate = load_model(tmp_path / "no-t5.safetensors", LoadOptions(text_encoder_dir=clip_dir, enable_t5=True))
    bundled = load_model(path, LoadOptions(text_encoder_dir=clip_dir, enable_t5=True))
    with torch.no_grad():
        a = separate.get_learned_conditioning(["a red cube"])["crossattn"]
        b = bundled.get_learned_conditioning(["a red cube"])["crossattn"]
    assert a[:, 77:].abs().max() > 0 and torch.allclose(a, b, atol=1e-6)


def test_released_t5_layout_on_meta_is_what_diffusers_converts():
    model = build_on_meta(bundled_config("sd3-inference.yaml"), shapes={
        "model.diffusion_model.x_embedder.proj.weight": (1536, 16, 2, 2),
        "model.diffusion_model.pos_embed": (1, 36864, 1536),
        "model.diffusion_model.y_embedder.mlp.0.weight": (1536, 2048),
        "model.diffusion_model.context_embedder.weight": (1536, 4096),
        **{f"model.diffusion_model.joint_blocks.{i}.x_block.attn.qkv.weight": (4608, 1536) for i in range(24)}})
    with torch.device("meta"):
        model.text_encoders.add_t5()
    keys = {k: tuple(v.shape) for k, v in model.state_dict().items() if k.startswith("text_encoders.t5xxl.")}
    # A1111's probe key and diffusers' single-file probe key, at T5-XXL's sizes
    assert keys["text_encoders.t5xxl.transformer.encoder.embed_tokens.weight"] == (32128, 4096)
    assert single_file.is_t5_in_single_file(keys)
    assert keys["text_encoders.t5xxl.transformer.encoder.block.23.layer.1.DenseReluDense.wi_1.weight"] == (10240, 4096)
    bias = "text_encoders.t5xxl.transformer.encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
    assert keys[bias] == (32, 64)
    converted = single_file.convert_sd3_t5_checkpoint_to_diffusers(keys)
    assert len(converted) == len(keys) == 2 + 24 * 9 + 1 + 1
