"""Text encoders and tokenizer against independent implementations.

CLIP-L: our embedder's layer choices against a standalone ``transformers``
``CLIPTextModel`` holding the same weights.  OpenCLIP: our tower against
open_clip's own ``CLIP`` text tower.  Tokenizer: ids against open_clip's
``SimpleTokenizer`` (and, without HTML unescaping, against the same clean-up).
"""
from __future__ import annotations

import pytest
import torch

from modules.models.nets.clip_text import ClipTextEmbedder, clip_text_config
from modules.models.nets.open_clip_text import OpenClipEmbedder
from modules.models.nets.text_chunks import chunk_token_ids, encode_texts
from modules.models.tokenizer import BOS_ID, EOS_ID, ClipTokenizer

open_clip = pytest.importorskip("open_clip")
transformers = pytest.importorskip("transformers")

TOLERANCE = 1e-4
SIZES = dict(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64)
PROMPTS = [
    "a photo of a cat",
    "(masterpiece:1.2), best quality, [ugly|pretty] girl, 8k uhd, dslr",
    "Ünïcödé ñandú — café «déjà vu» ½ ™ ©",
    "日本語のテキスト, 中文, 한국어 🐱🚀",
    "don't won't it's we'll I'd they're you've",
    "&amp; &lt;tag&gt; &quot;quoted&quot; Tom &amp;amp; Jerry",
    "<b>bold</b> &amp; <i>x</i>",
    "   lots\tof\n\nwhitespace   ",
    "numbers 1234567 3.14159 1e-4 #hashtag @user",
    "a very long prompt " * 40,
    "",
    "UPPER lower MiXeD",
    "snake_case kebab-case CamelCase",
]


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return ((ours - ref).abs().max() / ref.abs().max()).item()


def token_rows(prompts: list[str], pad_id: int, tokenizer: ClipTokenizer) -> torch.Tensor:
    return torch.tensor([chunk_token_ids(tokenizer.encode(p)[:75], 1, pad_id)[0] for p in prompts])


def test_tokenizer_matches_open_clip():
    reference = open_clip.tokenizer.SimpleTokenizer()
    ours = ClipTokenizer(unescape_html=True)
    for prompt in PROMPTS:
        assert ours.encode(prompt) == reference.encode(prompt), prompt
    batch = reference(PROMPTS[:4], context_length=77)
    for row, prompt in zip(batch.tolist(), PROMPTS[:4]):
        ids = ours.encode(prompt)
        assert row[:len(ids) + 2] == [BOS_ID, *ids, EOS_ID]


def test_tokenizer_without_html_unescape_keeps_entities():
    plain = ClipTokenizer(unescape_html=False)
    unescaping = ClipTokenizer(unescape_html=True)
    # ftfy already unescapes entities unless the text looks like HTML (has a "<").
    assert plain.encode("<b>Tom &amp; Jerry") != unescaping.encode("<b>Tom &amp; Jerry")
    assert plain.encode("<b>Tom & Jerry") == unescaping.encode("<b>Tom &amp; Jerry")
    assert plain.vocab[",</w>"] == 267


@pytest.fixture(scope="module")
def clip_pair():
    torch.manual_seed(0)
    ours = ClipTextEmbedder(layer="last", **SIZES).eval()
    reference = transformers.CLIPTextModel(clip_text_config(**SIZES)).eval()
    state = {k.removeprefix("transformer.text_model."): v for k, v in ours.state_dict().items()}
    reference.load_state_dict(state, strict=True)
    return ours, reference


def test_clip_l_keys_have_text_model_prefix(clip_pair):
    ours, _ = clip_pair
    keys = list(ours.state_dict())
    assert all(k.startswith("transformer.text_model.") for k in keys)
    assert "transformer.text_model.embeddings.token_embedding.weight" in keys
    assert "transformer.text_model.final_layer_norm.weight" in keys


def test_clip_l_layers_match_transformers(clip_pair):
    ours, reference = clip_pair
    tokens = token_rows(PROMPTS, EOS_ID, ours.tokenizer)
    with torch.no_grad():
        out = reference(input_ids=tokens, output_hidden_states=True)
        assert rel_err(ours.encode_tokens(tokens), out.last_hidden_state) < TOLERANCE
        skip2 = reference.final_layer_norm(out.hidden_states[-2])
        assert rel_err(ours.encode_tokens(tokens, clip_skip=2), skip2) < TOLERANCE
        sdxl_style = ClipTextEmbedder(layer="hidden", layer_idx=3, **SIZES).eval()
        sdxl_style.load_state_dict(ours.state_dict())
        assert rel_err(sdxl_style.encode_tokens(tokens), out.hidden_states[3]) < TOLERANCE


def test_clip_l_long_prompt_is_chunked(clip_pair):
    ours, _ = clip_pair
    with torch.no_grad():
        z = encode_texts(ours, ["word " * 100, "short"])
    assert z.shape == (2, 154, 32)


def open_clip_reference(ours: OpenClipEmbedder, width: int, heads: int, layers: int, embed_dim: int):
    text_cfg = open_clip.model.CLIPTextCfg(width=width, heads=heads, layers=layers, context_length=77,
                                           vocab_size=49408)
    vision_cfg = open_clip.model.CLIPVisionCfg(width=32, layers=1, patch_size=16, image_size=32, head_width=16)
    reference = open_clip.model.CLIP(embed_dim, vision_cfg, text_cfg).eval()
    state = {k.removeprefix("model."): v for k, v in ours.state_dict().items()}
    missing, unexpected = reference.load_state_dict(state, strict=False)
    assert not unexpected
    assert all(k.startswith("visual.") or k == "logit_scale" for k in missing)
    return reference


def run_reference_blocks(reference, tokens: torch.Tensor, n_blocks: int) -> torch.Tensor:
    x = reference.token_embedding(tokens) + reference.positional_embedding
    for block in reference.transformer.resblocks[:n_blocks]:
        x = block(x, attn_mask=reference.attn_mask)
    return x


@pytest.mark.parametrize("legacy", [True, False])
def test_open_clip_tower_matches_open_clip(legacy):
    sizes = dict(width=32, heads=2, layers=3, embed_dim=24)
    torch.manual_seed(1)
    ours = OpenClipEmbedder(arch="ViT-H-14", layer="penultimate", legacy=legacy,
                            always_return_pooled=not legacy, **sizes).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    reference = open_clip_reference(ours, **sizes)
    tokens = token_rows(PROMPTS, 0, ours.tokenizer)
    with torch.no_grad():
        out = ours.encode_tokens(tokens)
        penultimate = run_reference_blocks(reference, tokens, sizes["layers"] - 1)
        if legacy:  # SD2: penultimate block through ln_final
            assert rel_err(out, reference.ln_final(penultimate)) < TOLERANCE
        else:  # SDXL: raw penultimate block, and the pooled projection of the final block
            z, pooled = out
            assert rel_err(z, penultimate) < TOLERANCE
            assert rel_err(pooled, reference.encode_text(tokens)) < TOLERANCE
