"""Full-size key layouts on the meta device: BLIP's caption model against transformers' BLIP at the released
sizes (keys converted), DeepDanbooru against shapes of A1111's ``deepbooru_model.py``; the tiny DeepDanbooru's
feature-map sizes at A1111's 512 px input."""
from __future__ import annotations

import pytest
import torch

from modules.models.interrogation.blip import BLIP_BASE, BlipCaptionModel
from modules.models.interrogation.clip_model import VIT_L_14, ClipModel
from modules.models.interrogation.deepdanbooru import TAG_COUNT, DeepDanbooruModel
from tests.interrogation import tiny_files as tf


def _shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_blip_base_layout_is_transformers_blip_at_the_released_sizes():
    transformers = pytest.importorskip("transformers")
    with torch.device("meta"):
        ours = _shapes(BlipCaptionModel(BLIP_BASE))
        cfg = transformers.BlipConfig(vision_config=dict(image_size=384, patch_size=16),
                                      text_config=dict(vocab_size=30524))
        theirs = _shapes(transformers.BlipForConditionalGeneration(cfg))
    renames = [("vision_model.embeddings.class_embedding", "visual_encoder.cls_token"),
               ("vision_model.embeddings.position_embedding", "visual_encoder.pos_embed"),
               ("vision_model.embeddings.patch_embedding", "visual_encoder.patch_embed.proj"),
               ("vision_model.encoder.layers.", "visual_encoder.blocks."), (".layer_norm1.", ".norm1."),
               (".layer_norm2.", ".norm2."), (".self_attn.qkv.", ".attn.qkv."), (".self_attn.projection.", ".attn.proj."),
               ("vision_model.post_layernorm.", "visual_encoder.norm.")]
    converted = {}
    for key, shape in theirs.items():
        if key.startswith("vision_model"):
            for old, new in renames:
                key = key.replace(old, new)
        if "position_ids" not in key:
            converted[key] = shape
    assert ours == converted
    assert ours["visual_encoder.pos_embed"] == (1, 577, 768)
    assert ours["text_decoder.bert.encoder.layer.11.crossattention.self.key.weight"] == (768, 768)
    assert ours["text_decoder.cls.predictions.decoder.weight"] == (30524, 768)


def test_clip_vit_l_14_layout():
    with torch.device("meta"):
        shapes = _shapes(ClipModel(VIT_L_14))
    assert shapes["visual.conv1.weight"] == (1024, 3, 14, 14)
    assert shapes["visual.positional_embedding"] == (257, 1024)
    assert shapes["visual.proj"] == (1024, 768)
    assert shapes["visual.transformer.resblocks.23.attn.in_proj_weight"] == (3072, 1024)
    assert shapes["transformer.resblocks.11.mlp.c_fc.weight"] == (3072, 768)
    assert shapes["text_projection"] == (768, 768)
    assert shapes["token_embedding.weight"] == (49408, 768)
    assert "visual.transformer.resblocks.24.ln_1.weight" not in shapes and len(shapes) == 446  # OpenAI ViT-L/14 without its three int entries


def test_deepdanbooru_released_layout():
    with torch.device("meta"):
        shapes = _shapes(DeepDanbooruModel())
    # shapes read from A1111's deepbooru_model.py
    expected = {0: (64, 3, 7, 7), 1: (256, 64, 1, 1), 11: (512, 256, 1, 1), 13: (128, 128, 3, 3),
                36: (1024, 512, 1, 1), 97: (256, 1024, 1, 1), 98: (256, 256, 3, 3), 99: (1024, 256, 1, 1),
                100: (1024, 1024, 1, 1), 157: (1024, 256, 1, 1), 158: (2048, 1024, 1, 1), 160: (512, 512, 3, 3),
                168: (4096, 2048, 1, 1), 170: (1024, 1024, 3, 3), 177: (4096, 1024, 1, 1), 178: (TAG_COUNT, 4096, 1, 1)}
    for number, shape in expected.items():
        assert shapes[f"n_Conv_{number}.weight"] == shape, number
    assert {k for k in shapes if k.endswith(".weight")} == {f"n_Conv_{i}.weight" for i in range(179)}
    assert "n_Conv_178.bias" not in shapes and "n_Conv_177.bias" in shapes


def test_deepdanbooru_strides_give_a1111s_feature_sizes():
    model = tf.tiny_deepdanbooru()
    sizes = {}
    for number in (0, 1, 11, 36, 97, 98, 100, 158, 168, 178):
        conv = model.conv(number)
        conv.register_forward_hook(lambda m, i, o, n=number: sizes.__setitem__(n, (tuple(i[0].shape[2:]), tuple(o.shape[2:]))))
    with torch.no_grad():
        out = model(torch.rand(1, 512, 512, 3))
    assert out.shape == (1, len(tf.TAGS)) and bool(((out > 0) & (out < 1)).all())
    assert sizes[0] == ((517, 517), (256, 256))  # padded 2 left/top and 3 right/bottom
    assert sizes[1] == ((128, 128), (128, 128))  # after the padded 3x3 max pool
    assert sizes[11][1] == (64, 64) and sizes[36][1] == (32, 32)
    assert sizes[98] == ((33, 33), (16, 16)) and sizes[100] == ((32, 32), (16, 16))
    assert sizes[158][1] == (8, 8) and sizes[168][1] == (4, 4) and sizes[178] == ((4, 4), (4, 4))


def test_deepdanbooru_blocks_add_their_shortcut():
    # zero the last 1x1 convolution of every block: each block then passes relu(shortcut) on, so the picture's
    # path is the projections alone; the network must equal that chain computed here by hand
    model = tf.tiny_deepdanbooru(seed=4)
    with torch.no_grad():
        for block in model.blocks:
            model.conv(block.expand).weight.zero_()
            model.conv(block.expand).bias.zero_()
        x = torch.rand(1, 128, 128, 3)
        out = model(x)
        y = torch.relu(model.n_Conv_0(torch.nn.functional.pad(x.permute(0, 3, 1, 2), [2, 3, 2, 3])))
        y = torch.nn.functional.max_pool2d(torch.nn.functional.pad(y, [0, 1, 0, 1], value=float("-inf")), 3, 2)
        projections = {1, 11, 36, 100, 158, 168}
        for block in model.blocks:
            y = torch.relu(model.conv(block.shortcut)(y)) if block.shortcut is not None else torch.relu(y)
            assert (block.shortcut in projections) if block.shortcut is not None else True
        expected = torch.sigmoid(model.n_Conv_178(y).mean(dim=(2, 3)))
    torch.testing.assert_close(out, expected)
    assert sorted(b.shortcut for b in model.blocks if b.shortcut is not None) == sorted(projections)
