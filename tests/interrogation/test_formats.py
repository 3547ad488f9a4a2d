"""BLIP's tokenizer against transformers' ``BertTokenizer``; DeepBooru's and CLIP's answer formats (A1111's)."""
from __future__ import annotations

import random

import pytest
import torch

from modules.models.interrogation.bert_tokenizer import BertTokenizer
from modules.models.interrogation.ranking import format_matches, rank, read_categories
from modules.models.interrogation.tags import TagFormat, format_tags
from tests.interrogation import tiny_files as tf


@pytest.fixture
def vocab_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(tf.VOCAB) + "\n", encoding="utf-8")
    return path


def test_bert_tokenizer_matches_transformers(vocab_file):
    transformers = pytest.importorskip("transformers")
    ref = transformers.BertTokenizer(vocab=str(vocab_file), do_lower_case=True)
    ref.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})
    ours = BertTokenizer.from_file(vocab_file)
    for text in ("a picture of ", "A Picture of the CATS, sitting.", "a dog's house", "zebra cat", "café treés"):
        assert ours.encode(text) == ref(text).input_ids, text
    assert ours.token_id("[DEC]") == ref.bos_token_id == len(tf.VOCAB)
    rng = random.Random(0)
    for _ in range(50):
        ids = [rng.randrange(len(tf.VOCAB) + 2) for _ in range(rng.randrange(1, 12))]
        assert ours.decode(ids) == ref.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=True), ids


def test_deepbooru_tags_follow_the_settings():
    tags = ["b_tag", "a_tag", "smile_(happy)", "rating:safe", "low", "c\\d"]
    probs = [0.9, 0.6, 0.7, 0.99, 0.2, 0.5]
    assert format_tags(tags, probs, TagFormat()) == "a tag, b tag, c\\\\d, smile \\(happy\\)"
    assert format_tags(tags, probs, TagFormat(sort_alpha=False, use_spaces=False, escape=False)) == \
        "b_tag, smile_(happy), a_tag, c\\d"
    assert format_tags(tags, probs, TagFormat(threshold=0.65, include_ranks=True)) == \
        "(b tag:0.900), (smile \\(happy\\):0.700)"
    assert format_tags(tags, probs, TagFormat(filter_tags="b tag, smile_(happy)")) == "a tag, c\\\\d"


def test_categories_ranks_and_clip_answer(tmp_path):
    tf.write_categories(tmp_path)
    (tmp_path / "skipped.txt").write_text("x\n", encoding="utf8")
    cats = read_categories(tmp_path, skip=["skipped"])
    # A1111's ".topN." pattern on the name without ".txt": "flavors.top2.x" asks for two matches
    assert [(c.name, c.topn, c.items) for c in cats] == [
        ("artists", 1, ["by an artist", "by a painter"]), ("flavors.top2.x", 2, ["shiny", "dark", "bright"]),
        ("mediums", 1, ["a photo", "an oil painting"])]
    image = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0, 0.0]]), dim=-1)
    texts = torch.nn.functional.normalize(torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.1, 0.0], [0.5, 0.5, 0.0]]), dim=-1)
    matches = rank(image, texts, ["far", "near", "mid"], top_count=2)
    assert [m for m, _ in matches] == ["near", "mid"]
    expected = (100 * image @ texts.T).softmax(-1)[0]
    assert matches[0][1] == pytest.approx(float(expected[1]) * 100, rel=1e-5)
    assert format_matches("a cat", matches, False) == "a cat, near, mid"
    assert format_matches("a cat", matches, True) == f"a cat, (near:{matches[0][1] / 100:.3f}), (mid:{matches[1][1] / 100:.3f})"
