"""The interrogators' networks at tiny widths against independent implementations on the same weights:
OpenAI CLIP against open_clip's ``build_model_from_openai_state_dict``, BLIP against transformers'
``BlipForConditionalGeneration`` (keys converted, captions searched by transformers' ``generate``)."""
from __future__ import annotations

import pytest
import torch

from modules.models.interrogation import beam_search
from modules.models.interrogation.blip import reorder_caches
from modules.models.interrogation.clip_model import ClipModel, config_from_state_dict
from modules.models.interrogation.ranking import tokenize
from modules.models.tokenizer import ClipTokenizer
from tests.interrogation import tiny_files as tf


def test_clip_matches_open_clip_on_the_same_weights():
    open_clip = pytest.importorskip("open_clip")
    ours = tf.tiny_clip(seed=3)
    sd = ours.state_dict()
    assert config_from_state_dict(sd) == tf.TINY_CLIP
    ref = open_clip.model.build_model_from_openai_state_dict(dict(sd), quick_gelu=True, cast_dtype=None).float().eval()
    missing, unexpected = ref.load_state_dict(sd, strict=False)  # fp32 again (the builder rounds to fp16)
    assert not missing and not unexpected
    pixels = torch.randn(2, 3, 28, 28, generator=torch.Generator().manual_seed(0))
    texts = ["a photo of a cat", "an oil painting &amp; a  DOG", "x " * 100]
    tok = ClipTokenizer(unescape_html=True)
    tokens = tokenize(tok.encode, texts, tok.bos_id, tok.eos_id)
    assert torch.equal(tokens, open_clip.tokenize(texts))  # clip.tokenize(truncate=True): the end token kept
    with torch.no_grad():
        torch.testing.assert_close(ours.encode_image(pixels), ref.encode_image(pixels), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ours.encode_text(tokens), ref.encode_text(tokens), atol=1e-5, rtol=1e-5)


def _hf_blip(model):
    transformers = pytest.importorskip("transformers")
    c = model.config
    cfg = transformers.BlipConfig(
        vision_config=dict(hidden_size=c.vision_width, intermediate_size=c.vision_width * 4,
                           num_hidden_layers=c.vision_layers, num_attention_heads=c.vision_heads,
                           image_size=c.image_size, patch_size=c.patch_size, layer_norm_eps=1e-6),
        text_config=dict(vocab_size=c.vocab_size, hidden_size=c.text_width, encoder_hidden_size=c.vision_width,
                         intermediate_size=c.intermediate_size, num_hidden_layers=c.text_layers,
                         num_attention_heads=c.text_heads, max_position_embeddings=c.max_positions,
                         bos_token_id=len(tf.VOCAB), sep_token_id=tf.VOCAB.index("[SEP]"), pad_token_id=0,
                         eos_token_id=tf.VOCAB.index("[SEP]")))
    ref = transformers.BlipForConditionalGeneration(cfg).eval()
    renames = [("visual_encoder.cls_token", "vision_model.embeddings.class_embedding"),
               ("visual_encoder.pos_embed", "vision_model.embeddings.position_embedding"),
               ("visual_encoder.patch_embed.proj", "vision_model.embeddings.patch_embedding"),
               ("visual_encoder.blocks.", "vision_model.encoder.layers."), (".norm1.", ".layer_norm1."),
               (".norm2.", ".layer_norm2."), (".attn.qkv.", ".self_attn.qkv."), (".attn.proj.", ".self_attn.projection."),
               ("visual_encoder.norm.", "vision_model.post_layernorm.")]
    converted = {}
    for key, value in model.state_dict().items():
        if key.startswith("visual_encoder"):
            for old, new in renames:
                key = key.replace(old, new)
        converted[key] = value
    missing, unexpected = ref.load_state_dict(converted, strict=False)
    assert not unexpected and all("position_ids" in k for k in missing), (missing, unexpected)
    return ref


def _our_caption_ids(model, pixels, num_beams, min_length, max_length):
    image = model.visual_encoder(pixels).repeat_interleave(num_beams, dim=0)
    caches = model.text_decoder.start_cache(image)
    prompt = [len(tf.VOCAB), tf.VOCAB.index("a"), tf.VOCAB.index("picture"), tf.VOCAB.index("of")]
    return beam_search.generate(lambda ids: model.text_decoder.step(ids, caches),
                                lambda order: reorder_caches(caches, order), prompt, num_beams, min_length,
                                max_length, eos_id=tf.VOCAB.index("[SEP]"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blip_matches_transformers_blip(seed):
    model = tf.tiny_blip(seed)
    ref = _hf_blip(model)
    pixels = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        torch.testing.assert_close(model.visual_encoder(pixels), ref.vision_model(pixels).last_hidden_state,
                                   atol=1e-5, rtol=1e-5)
        prompt = torch.tensor([[tf.VOCAB.index(w) for w in ("[CLS]", "a", "picture", "of", "[SEP]")]])
        for num_beams, min_length, max_length in ((1, 5, 20), (1, 12, 12), (3, 10, 10), (4, 9, 9)):
            ours = _our_caption_ids(model, pixels, num_beams, min_length, max_length)
            theirs = ref.generate(pixel_values=pixels, input_ids=prompt.clone(), num_beams=num_beams,
                                  min_length=min_length, max_length=max_length, do_sample=False)
            assert ours == theirs[0].tolist()[:len(ours)], (num_beams, ours, theirs)
            assert all(t == 0 for t in theirs[0].tolist()[len(ours):])  # transformers pads after the end


def test_decoder_cache_gives_the_logits_of_a_full_pass():
    model = tf.tiny_blip(5)
    pixels = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    ids = torch.tensor([[26, 6, 7, 8, 9, 10]])
    with torch.no_grad():
        image = model.visual_encoder(pixels)
        full = model.text_decoder.step(ids, model.text_decoder.start_cache(image))
        caches = model.text_decoder.start_cache(image)
        model.text_decoder.step(ids[:, :4], caches)
        model.text_decoder.step(ids[:, 4:5], caches)
        stepped = model.text_decoder.step(ids[:, 5:], caches)
    torch.testing.assert_close(stepped, full, atol=1e-5, rtol=1e-5)


class _TableModel:
    """Next-token log-probabilities from a table keyed by the text so far (3 tokens: 0, 1, end=2)."""

    def __init__(self, table):
        self.table = table
        self.rows = []

    def step(self, ids):
        if not self.rows:
            self.rows = [list(r) for r in ids.tolist()]
        else:
            self.rows = [r + n for r, n in zip(self.rows, ids.tolist())]
        return torch.log(torch.tensor([self.table[tuple(r)] for r in self.rows]))

    def reorder(self, order):
        self.rows = [list(self.rows[i]) for i in order.tolist()]


def test_beam_search_scores_finished_beams_by_their_length_without_the_end_token():
    # Two beams after the prompt [9]: "9 0" (0.5) and "9 1" (0.4). Then "9 0 end" (log .5 + log .9 = -0.798) finishes
    # with score -0.798 / 2 (its length without the end token, transformers 4.30 as A1111 pins it), and at
    # max_length 3 the open beam "9 1 1" (log .4 + log .9 = -1.022) is scored -1.022 / 3 = -0.341, which wins.
    # (Counting the end token, -0.798 / 3 = -0.266, "9 0 end" would win.)
    table = {(9,): [0.5, 0.4, 0.1], (9, 0): [0.05, 0.05, 0.9], (9, 1): [0.05, 0.9, 0.05],
             (9, 0, 0): [0.3, 0.3, 0.4], (9, 0, 1): [0.3, 0.3, 0.4], (9, 1, 1): [0.05, 0.9, 0.05],
             (9, 1, 0): [0.3, 0.3, 0.4], (9, 1, 1, 1): [0.05, 0.9, 0.05], (9, 1, 1, 0): [0.3, 0.3, 0.4],
             (9, 0, 0, 0): [0.3, 0.3, 0.4], (9, 0, 0, 1): [0.3, 0.3, 0.4], (9, 0, 1, 0): [0.3, 0.3, 0.4],
             (9, 0, 1, 1): [0.3, 0.3, 0.4], (9, 1, 0, 0): [0.3, 0.3, 0.4], (9, 1, 0, 1): [0.3, 0.3, 0.4]}

    def search(num_beams, min_length, max_length):
        model = _TableModel(table)
        return beam_search.generate(model.step, model.reorder, [9], num_beams, min_length, max_length, eos_id=2)

    assert search(2, 1, 3) == [9, 1, 1]
    assert search(2, 4, 5)[:4] == [9, 1, 1, 1]  # the end token kept away until 4 tokens
    assert search(1, 1, 5) == [9, 0, 2]  # greedy
    assert search(1, 3, 4) == [9, 0, 0, 2]
