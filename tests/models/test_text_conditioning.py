"""A1111's prompt path on SD1 (CLIP-L) and SD2 (OpenCLIP-H) tiny models: numbers, not shapes.

Each expected tensor is built independently: token rows written out here and
run through the bare embedder, the emphasis arithmetic done by hand, clip skip
taken straight from the transformer's hidden states, and textual-inversion
vectors planted in the token table of the plain path.
"""
from __future__ import annotations

import hashlib

import pytest
import torch

from modules import sd_emphasis, sd_hijack_clip
from modules.models.nets.text_chunks import encode_texts
from modules.models.tokenizer import EOS_ID
from modules.prompting import emphasis as prompting_emphasis
from modules.prompting.model_conditioning import attach_text_conditioning, detach_text_conditioning
from modules.prompting.prompt_encoder import ConditioningRecord, PromptEncoder
from modules.prompting.textual_inversion.database import EmbeddingDatabase
from modules.sd_hijack import StableDiffusionModelHijack
from tests.models.text_conditioning_helpers import (encode_rows, ids_of, load_tiny, make_settings, row,
                                                    vectors_as_tokens)

TIGHT = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny-text")


@pytest.fixture(scope="module")
def sd1(folder):
    return load_tiny("sd1", folder)


@pytest.fixture(scope="module")
def sd2(folder):
    return load_tiny("sd2", folder)


@pytest.fixture
def attach():
    """Attach with given settings; every model attached in a test is detached afterwards."""
    attached = []

    def do(model, record=None, embedding_db=None, **settings):
        opts = make_settings(**settings)
        conditioning = attach_text_conditioning(model, lambda: opts, embedding_db, record)
        attached.append(model)
        return conditioning, opts

    yield do
    for model in attached:
        detach_text_conditioning(model)


def encode(model, texts):
    with torch.no_grad():
        return model.get_learned_conditioning(texts)


# --- (a) plain prompts ---------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["sd1", "sd2"])
def test_plain_prompt_equals_bare_encoder(request, attach, family):
    model = request.getfixturevalue(family)
    embedder = model.cond_stage_model
    prompt = "a photo of a cat, best quality"
    with torch.no_grad():
        expected = encode_rows(embedder, [row(ids_of(embedder, prompt), embedder.pad_id)])
        bare = model.get_learned_conditioning([prompt])
    attach(model, emphasis="None")
    assert torch.equal(encode(model, [prompt]), expected)
    attach(model, emphasis="Original")  # all weights 1: only the mean-restore's rounding remains
    assert torch.allclose(encode(model, [prompt]), expected, **TIGHT)
    assert torch.equal(bare, expected)


def test_attach_adds_no_weights_and_detach_restores_plain_path(sd1, attach):
    keys = list(sd1.state_dict())
    attach(sd1)
    assert list(sd1.state_dict()) == keys
    assert sd1.cond_stage_model.prompt_encoder is sd1.text_conditioning.primary
    detach_text_conditioning(sd1)
    assert sd1.text_conditioning is None
    with torch.no_grad():
        assert torch.equal(encode(sd1, ["(cat:1.5), dog"]), encode_texts(sd1.cond_stage_model, ["(cat:1.5), dog"]))


# --- (b) emphasis --------------------------------------------------------------------------------

def weighted(z: torch.Tensor, position: int, weight: float) -> torch.Tensor:
    multipliers = torch.ones(z.shape[:2])
    multipliers[:, position] = weight
    return z * multipliers[..., None]


@pytest.mark.parametrize("family", ["sd1", "sd2"])
def test_emphasis_modes(request, attach, family):
    model = request.getfixturevalue(family)
    embedder = model.cond_stage_model
    with torch.no_grad():
        z = encode_rows(embedder, [row(ids_of(embedder, "a photo of a cat"), embedder.pad_id)])
        literal = encode_rows(embedder, [row(ids_of(embedder, "a photo of a (cat:1.5)"), embedder.pad_id)])
    cat = 1 + len(ids_of(embedder, "a photo of a "))
    prompt = ["a photo of a (cat:1.5)"]

    record = ConditioningRecord()
    attach(model, record=record, emphasis="Original")
    scaled = weighted(z, cat, 1.5)
    original = scaled * (z.mean() / scaled.mean())
    assert torch.allclose(encode(model, prompt), original, **TIGHT)
    assert not torch.allclose(original, z)
    assert "Emphasis" not in record.extra_generation_params

    attach(model, record=record, emphasis="No norm")
    assert torch.allclose(encode(model, prompt), weighted(z, cat, 1.5), **TIGHT)
    assert record.extra_generation_params["Emphasis"] == "No norm"

    attach(model, emphasis="Ignore")
    assert torch.equal(encode(model, prompt), z)

    attach(model, emphasis="None")  # brackets go to the tokenizer as text
    assert torch.equal(encode(model, prompt), literal)


# --- (c) chunks, comma back-off, BREAK -----------------------------------------------------------

@pytest.mark.parametrize("family", ["sd1", "sd2"])
def test_long_prompt_comma_backoff_moves_the_chunk_break(request, attach, family):
    model = request.getfixturevalue(family)
    embedder = model.cond_stage_model
    cat, dog, comma = ids_of(embedder, "cat")[0], ids_of(embedder, "dog")[0], ids_of(embedder, ",")[0]
    prompt = "cat " * 70 + ", " + "dog " * 10  # 81 tokens, the comma at 70
    pad = embedder.pad_id
    with torch.no_grad():
        backed_off = encode_rows(embedder, [row([cat] * 70 + [comma], pad), row([dog] * 10, pad)])
        straight = encode_rows(embedder, [row([cat] * 70 + [comma] + [dog] * 4, pad), row([dog] * 6, pad)])

    conditioning, _ = attach(model, emphasis="None")
    z = encode(model, [prompt])
    assert z.shape == (1, 154, embedder.width)
    assert torch.equal(z, backed_off)
    assert conditioning.get_prompt_lengths(prompt) == (85, 150)

    conditioning, _ = attach(model, emphasis="None", comma_padding_backtrack=0)
    assert torch.equal(encode(model, [prompt]), straight)
    assert conditioning.get_prompt_lengths(prompt) == (81, 150)


def test_sd2_pads_with_zero_after_the_end_token(sd2, attach):
    embedder = sd2.cond_stage_model
    assert embedder.pad_id == 0
    ids = ids_of(embedder, "a cat")
    attach(sd2, emphasis="None")
    with torch.no_grad():
        expected = embedder.encode_tokens(torch.tensor([[49406, *ids, EOS_ID] + [0] * (75 - len(ids))]))
        end_padded = embedder.encode_tokens(torch.tensor([[49406, *ids] + [EOS_ID] * (76 - len(ids))]))
    assert torch.equal(encode(sd2, ["a cat"]), expected)
    assert not torch.allclose(expected, end_padded)


@pytest.mark.parametrize("family", ["sd1", "sd2"])
def test_break_starts_a_new_chunk_and_emphasis_none_disables_it(request, attach, family):
    model = request.getfixturevalue(family)
    embedder = model.cond_stage_model
    pad = embedder.pad_id
    with torch.no_grad():
        two = encode_rows(embedder, [row(ids_of(embedder, "a cat"), pad), row(ids_of(embedder, "a dog"), pad)])
        raw = encode_rows(embedder, [row(ids_of(embedder, "a cat BREAK a dog"), pad)])
    attach(model, emphasis="Ignore")
    assert torch.equal(encode(model, ["a cat BREAK a dog"]), two)
    attach(model, emphasis="None")
    assert torch.equal(encode(model, ["a cat BREAK a dog"]), raw)


def test_batch_items_with_fewer_chunks_get_empty_chunks(sd1, attach):
    embedder = sd1.cond_stage_model
    attach(sd1, emphasis="None")
    with torch.no_grad():
        empty = encode_rows(embedder, [row([], EOS_ID)])
    z = encode(sd1, ["a cat", "dog " * 80])
    assert z.shape == (2, 154, 32)
    assert torch.equal(z[:1, 77:], empty)


# --- (d) textual inversion -----------------------------------------------------------------------

@pytest.fixture
def embeddings_dir(tmp_path):
    folder = tmp_path / "embeddings"
    folder.mkdir()
    return folder


def test_textual_inversion_vectors_replace_placeholder_rows(sd1, attach, embeddings_dir):
    embedder = sd1.cond_stage_model
    torch.manual_seed(3)
    vectors = torch.randn(2, 32)
    path = embeddings_dir / "tinyemb.pt"
    torch.save({"string_to_param": {"*": vectors}, "name": "tinyemb", "step": 5}, path)
    db = EmbeddingDatabase()
    db.add_embedding_dir(str(embeddings_dir))
    record = ConditioningRecord()
    conditioning, _ = attach(sd1, record=record, embedding_db=db, emphasis="None")
    db.load_textual_inversion_embeddings()
    assert list(db.word_embeddings) == ["tinyemb"] and db.expected_shape == 32

    head = ids_of(embedder, "a photo of")
    tail = ids_of(embedder, "cat")
    with torch.no_grad(), vectors_as_tokens(embedder, vectors) as planted:
        expected = encode_rows(embedder, [row(head + planted + tail, EOS_ID)])
        prefix = encode_rows(embedder, [row(head, EOS_ID)])
    z = encode(sd1, ["a photo of tinyemb cat"])
    assert torch.allclose(z, expected, **TIGHT)
    # causal attention: positions before the embedding (BOS + 3 words) are untouched
    assert torch.equal(z[:, :4], prefix[:, :4])
    assert conditioning.get_prompt_lengths("a photo of tinyemb cat") == (6, 75)

    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert record.extra_generation_params["TI hashes"] == f"tinyemb: {sha[:12]}"

    # weights apply to the embedding's vectors too
    conditioning, _ = attach(sd1, embedding_db=db, emphasis="No norm")
    db.load_textual_inversion_embeddings()
    z = encode(sd1, ["a photo of (tinyemb:1.2) cat"])
    assert torch.allclose(z, weighted(weighted(expected, 4, 1.2), 5, 1.2), **TIGHT)


def test_ti_hashes_can_be_turned_off(sd1, attach, embeddings_dir):
    torch.save({"string_to_param": {"*": torch.randn(1, 32)}}, embeddings_dir / "tinyemb.pt")
    db = EmbeddingDatabase()
    db.add_embedding_dir(str(embeddings_dir))
    record = ConditioningRecord()
    attach(sd1, record=record, embedding_db=db, textual_inversion_add_hashes_to_infotext=False)
    db.load_textual_inversion_embeddings()
    encode(sd1, ["tinyemb"])
    assert "TI hashes" not in record.extra_generation_params


# --- (e) clip skip -------------------------------------------------------------------------------

def test_sd1_clip_skip_is_hidden_state_then_final_norm(sd1, attach):
    embedder = sd1.cond_stage_model
    tokens = torch.tensor([row(ids_of(embedder, "a photo of a cat"), EOS_ID)])
    text_model = embedder.transformer.text_model
    with torch.no_grad():
        hidden = text_model(input_ids=tokens, output_hidden_states=True).hidden_states
        skip2 = text_model.final_layer_norm(hidden[-2])
        last = text_model.final_layer_norm(hidden[-1])
    attach(sd1, emphasis="None", CLIP_stop_at_last_layers=2)
    assert torch.allclose(encode(sd1, ["a photo of a cat"]), skip2, **TIGHT)
    attach(sd1, emphasis="None", CLIP_stop_at_last_layers=1)
    assert torch.allclose(encode(sd1, ["a photo of a cat"]), last, **TIGHT)
    assert not torch.allclose(skip2, last)


def test_sd2_ignores_clip_skip(sd2, attach):
    attach(sd2, CLIP_stop_at_last_layers=1)
    one = encode(sd2, ["a photo of a cat"])
    attach(sd2, CLIP_stop_at_last_layers=2)
    assert torch.equal(encode(sd2, ["a photo of a cat"]), one)


# --- A1111 compatibility surface -----------------------------------------------------------------

def test_model_hijack_records_and_counts(sd1):
    opts = make_settings(emphasis="No norm")
    hijack = StableDiffusionModelHijack(settings=lambda: opts)
    assert hijack.get_prompt_lengths("a cat") == ("-", "-")
    hijack.hijack(sd1)
    try:
        assert isinstance(hijack.clip, sd_hijack_clip.FrozenCLIPEmbedderWithCustomWords)
        assert hijack.get_prompt_lengths("a cat") == (2, 75)
        assert hijack.get_prompt_lengths("cat " * 76) == (76, 150)
        assert hijack.embedding_db.expected_shape == 32
        encode(sd1, ["a (cat:1.2)"])
        assert hijack.extra_generation_params == {"Emphasis": "No norm"}
        hijack.clear_comments()
        assert hijack.extra_generation_params == {} and hijack.comments == []
        chunks, count = hijack.clip.process_texts(["a cat"])
        assert count == 2 and len(chunks[0][0].tokens) == 77
        assert hijack.clip.encode_embedding_init_text("a cat", 1).shape == (1, 32)
    finally:
        hijack.undo_hijack(sd1)
    assert sd1.text_conditioning is None and hijack.clip is None


def test_sd_emphasis_is_the_prompting_modes():
    assert sd_emphasis.options is prompting_emphasis.options
    assert sd_emphasis.get_current_option("No norm") is sd_emphasis.EmphasisOriginalNoNorm
    assert sd_hijack_clip.TextConditionalModel is PromptEncoder


# --- use_old_emphasis_implementation -------------------------------------------------------------

def test_old_emphasis_implementation(sd1, attach, embeddings_dir):
    embedder = sd1.cond_stage_model
    a, cat, dog = (ids_of(embedder, w)[0] for w in ("a", "cat", "dog"))
    with torch.no_grad():
        z = encode_rows(embedder, [row([a, cat, dog], EOS_ID)])
        literal_break = encode_rows(embedder, [row(ids_of(embedder, "a cat BREAK dog"), EOS_ID)])
    record = ConditioningRecord()
    attach(sd1, record=record, emphasis="No norm", use_old_emphasis_implementation=True)
    # bracket tokens are dropped and change the weight from there on; no parser, so no BREAK
    assert torch.allclose(encode(sd1, ["a (cat) dog"]), weighted(z, 2, 1.1), **TIGHT)
    assert torch.equal(encode(sd1, ["a cat BREAK dog"]), literal_break)
    assert record.extra_generation_params == {} and record.comments == []

    out = encode(sd1, ["cat " * 80])
    assert out.shape == (1, 77, 32)
    assert record.comments == ["Warning: too many input tokens; some (5) have been truncated:\ncat cat cat cat cat\n"]

    torch.save({"string_to_param": {"*": torch.full((1, 32), 0.5)}}, embeddings_dir / "tinyemb.pt")
    db = EmbeddingDatabase()
    db.add_embedding_dir(str(embeddings_dir))
    record = ConditioningRecord()
    attach(sd1, record=record, embedding_db=db, use_old_emphasis_implementation=True)
    db.load_textual_inversion_embeddings()
    encode(sd1, ["a tinyemb"])
    # A1111's checksum: r = (r * 281 ^ int(v * 100) * 997) mod 2**32 over the vectors, low 16 bits
    r = 0
    for _ in range(32):
        r = (r * 281 ^ 50 * 997) & 0xFFFFFFFF
    assert record.comments == [f"Used embeddings: tinyemb [{r & 0xffff:04x}]"]
