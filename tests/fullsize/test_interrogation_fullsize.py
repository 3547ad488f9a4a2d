"""The interrogators' networks at the released sizes with seeded random weights, against the reference
packages on the same weights (BLIP base against transformers' BLIP, OpenAI ViT-L/14 against open_clip), and
the DeepDanbooru network at A1111's 512 px input.  Heavy (several GB and minutes of CPU): run with
``WEBUI_TEST_FULLSIZE_ALL=1`` under ``flock /tmp/bigmem.lock``; the default run checks the same layouts on the
meta device (tests/interrogation/test_layouts.py) and the numbers at tiny widths."""
from __future__ import annotations

import gc

import pytest
import torch

from tests.fullsize.conftest import heavy
from tests.interrogation import tiny_files as tf

pytestmark = heavy


def test_blip_base_matches_transformers_at_full_size():
    from modules.models.interrogation.blip import BLIP_BASE, BlipCaptionModel
    from tests.interrogation.test_networks import _hf_blip, _our_caption_ids

    model = BlipCaptionModel(BLIP_BASE).eval()
    tf._randomize(model, seed=0, scale=0.02)
    preds = model.text_decoder.cls.predictions
    with torch.no_grad():
        preds.bias.copy_(preds.decoder.bias)
        preds.decoder.weight.copy_(model.text_decoder.bert.embeddings.word_embeddings.weight)
    ref = _hf_blip(model)
    pixels = torch.randn(1, 3, 384, 384, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model.visual_encoder(pixels), ref.vision_model(pixels).last_hidden_state,
                                   atol=2e-4, rtol=2e-4)
        prompt = torch.tensor([[tf.VOCAB.index(w) for w in ("[CLS]", "a", "picture", "of", "[SEP]")]])
        ours = _our_caption_ids(model, pixels, 1, 8, 12)
        theirs = ref.generate(pixel_values=pixels, input_ids=prompt, num_beams=1, min_length=8, max_length=12)
    assert ours == theirs[0].tolist()[:len(ours)]
    del model, ref
    gc.collect()


def test_clip_vit_l_14_matches_open_clip_at_full_size():
    open_clip = pytest.importorskip("open_clip")
    from modules.models.interrogation.clip_model import VIT_L_14, ClipModel

    ours = ClipModel(VIT_L_14).eval()
    tf._randomize(ours, seed=1, scale=0.02)
    sd = ours.state_dict()
    ref = open_clip.model.build_model_from_openai_state_dict(dict(sd), cast_dtype=None).float().eval()
    ref.load_state_dict(sd, strict=False)
    pixels = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    tokens = open_clip.tokenize(["a photo of a cat", "an oil painting"])
    with torch.no_grad():
        torch.testing.assert_close(ours.encode_image(pixels), ref.encode_image(pixels), atol=2e-4, rtol=2e-4)
        torch.testing.assert_close(ours.encode_text(tokens), ref.encode_text(tokens), atol=2e-4, rtol=2e-4)
    del ours, ref
    gc.collect()


def test_deepdanbooru_runs_at_full_size():
    from modules.models.interrogation.deepdanbooru import TAG_COUNT, DeepDanbooruModel

    model = DeepDanbooruModel().eval()
    with torch.no_grad():
        out = model(torch.rand(1, 512, 512, 3))
    assert out.shape == (1, TAG_COUNT) and bool(((out >= 0) & (out <= 1)).all())
