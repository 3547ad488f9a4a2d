"""A1111's prompt path on tiny SDXL base and refiner models: both encoders, the vector, TI halves, clip skip."""
from __future__ import annotations

import hashlib

import pytest
import torch
from safetensors.torch import save_file

from modules.models.tokenizer import EOS_ID
from modules.prompting.model_conditioning import attach_text_conditioning, detach_text_conditioning
from modules.prompting.prompt_encoder import ConditioningRecord
from modules.prompting.textual_inversion.database import EmbeddingDatabase
from modules.sd_hijack import StableDiffusionModelHijack
from tests.models.text_conditioning_helpers import (encode_rows, ids_of, load_tiny, make_settings, row,
                                                    vectors_as_tokens)

TIGHT = dict(rtol=1e-5, atol=1e-6)
WIDTH = 32  # each tiny text encoder


class Batch(list):
    """What processing passes: a list of prompts carrying the image size (A1111's ``SdConditioning``)."""

    def __init__(self, texts, width=None, height=None, is_negative_prompt=False):
        super().__init__(texts)
        self.width, self.height, self.is_negative_prompt = width, height, is_negative_prompt


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny-sdxl-text")


@pytest.fixture(scope="module")
def sdxl(folder):
    return load_tiny("sdxl", folder)


@pytest.fixture(scope="module")
def refiner(folder):
    return load_tiny("sdxl-refiner", folder)


@pytest.fixture
def attach():
    attached = []

    def do(model, record=None, embedding_db=None, **settings):
        opts = make_settings(**settings)
        conditioning = attach_text_conditioning(model, lambda: opts, embedding_db, record)
        attached.append(model)
        return conditioning

    yield do
    for model in attached:
        detach_text_conditioning(model)


def cond(model, texts, **kwargs):
    with torch.no_grad():
        return model.get_learned_conditioning(texts, **kwargs)


def embedders(model):
    clip_l, clip_g = model.conditioner.embedders[0], model.conditioner.embedders[1]
    assert hasattr(clip_l, "transformer") and hasattr(clip_g, "model")
    return clip_l, clip_g


def both_encoders(model, clip_l_rows, clip_g_rows, clip_l_skip=None):
    clip_l, clip_g = embedders(model)
    with torch.no_grad():
        z_l = encode_rows(clip_l, clip_l_rows, clip_l_skip)
        z_g, pooled = encode_rows(clip_g, clip_g_rows)
    return torch.cat([z_l, z_g], dim=-1), pooled


# --- (f) the conditioning dict -------------------------------------------------------------------

def test_plain_prompt_dict_equals_untouched_model(sdxl, attach):
    clip_l, clip_g = embedders(sdxl)
    prompt = "a photo of a cat, best quality"
    bare = cond(sdxl, [prompt], width=640, height=512)
    crossattn, pooled = both_encoders(sdxl, [row(ids_of(clip_l, prompt), EOS_ID)], [row(ids_of(clip_g, prompt), 0)])
    assert torch.equal(bare["crossattn"], crossattn)

    conditioning = attach(sdxl, emphasis="None")
    assert conditioning.widths == [WIDTH, WIDTH]
    hooked = cond(sdxl, Batch([prompt], width=640, height=512))
    assert hooked["crossattn"].shape == (1, 77, 2 * WIDTH)
    assert torch.equal(hooked["crossattn"], bare["crossattn"])
    assert torch.equal(hooked["vector"], bare["vector"])
    assert torch.equal(hooked["vector"][:, :WIDTH], pooled)

    attach(sdxl, emphasis="Original")
    hooked = cond(sdxl, Batch([prompt], width=640, height=512))
    assert torch.allclose(hooked["crossattn"], bare["crossattn"], **TIGHT)
    assert torch.equal(hooked["vector"], bare["vector"])


def test_unset_sizes_default_to_1024(sdxl, attach):
    attach(sdxl)
    assert torch.equal(cond(sdxl, Batch(["a cat"]))["vector"], cond(sdxl, ["a cat"], width=1024, height=1024)["vector"])


def test_crop_and_empty_negative_follow_settings(sdxl, attach):
    expected = cond(sdxl, ["a cat"], width=512, height=768, crop_top=16, crop_left=8)["vector"]
    attach(sdxl, sdxl_crop_top=16, sdxl_crop_left=8)
    assert torch.equal(cond(sdxl, Batch(["a cat"], width=512, height=768))["vector"], expected)
    negative = cond(sdxl, Batch(["", ""], is_negative_prompt=True))
    assert negative["crossattn"].abs().sum() == 0
    assert negative["vector"][:, :WIDTH].abs().sum() == 0 and negative["vector"][:, WIDTH:].abs().sum() > 0


def test_refiner_scores_and_single_encoder(refiner, attach):
    high = cond(refiner, ["a cat"], aesthetic_score=7.0)["vector"]
    low = cond(refiner, ["a cat"], aesthetic_score=1.5)["vector"]
    conditioning = attach(refiner, sdxl_refiner_high_aesthetic_score=7.0, sdxl_refiner_low_aesthetic_score=1.5)
    assert len(conditioning.encoders) == 1 and conditioning.primary.textual_inversion_key == "clip_g"
    assert torch.equal(cond(refiner, Batch(["a cat"]))["vector"], high)
    assert torch.equal(cond(refiner, Batch(["a cat"], is_negative_prompt=True))["vector"], low)


def test_long_prompt_keeps_first_chunk_pooled(sdxl, attach):
    clip_l, clip_g = embedders(sdxl)
    cat, comma = ids_of(clip_l, "cat")[0], ids_of(clip_l, ",")[0]
    prompt = "cat " * 70 + ", " + "cat " * 10
    first, second = [cat] * 70 + [comma], [cat] * 10
    crossattn, pooled = both_encoders(sdxl, [row(first, EOS_ID), row(second, EOS_ID)], [row(first, 0), row(second, 0)])
    attach(sdxl, emphasis="None")
    out = cond(sdxl, Batch([prompt]))
    assert out["crossattn"].shape == (1, 154, 2 * WIDTH)
    assert torch.equal(out["crossattn"], crossattn)
    assert torch.equal(out["vector"][:, :WIDTH], pooled)


def test_emphasis_applies_to_each_encoder_before_joining(sdxl, attach):
    clip_l, clip_g = embedders(sdxl)
    z, _ = both_encoders(sdxl, [row(ids_of(clip_l, "a cat"), EOS_ID)], [row(ids_of(clip_g, "a cat"), 0)])
    record = ConditioningRecord()
    attach(sdxl, record=record, emphasis="No norm")
    expected = z.clone()
    expected[:, 2] *= 1.4
    assert torch.allclose(cond(sdxl, Batch(["a (cat:1.4)"]))["crossattn"], expected, **TIGHT)
    assert record.extra_generation_params == {"Emphasis": "No norm"}

    attach(sdxl, emphasis="Original")
    out = cond(sdxl, Batch(["a (cat:1.4)"]))["crossattn"]
    for part in (slice(0, WIDTH), slice(WIDTH, 2 * WIDTH)):  # the mean is restored per encoder
        scaled = expected[..., part]
        assert torch.allclose(out[..., part], scaled * (z[..., part].mean() / scaled.mean()), **TIGHT)


# --- (e) clip skip -------------------------------------------------------------------------------

def test_clip_skip_needs_sdxl_clip_l_skip(sdxl, attach):
    clip_l, clip_g = embedders(sdxl)
    prompt = "a photo of a cat"
    tokens = torch.tensor([row(ids_of(clip_l, prompt), EOS_ID)])
    with torch.no_grad():
        hidden = clip_l.transformer.text_model(input_ids=tokens, output_hidden_states=True).hidden_states
    attach(sdxl, emphasis="None")
    default = cond(sdxl, Batch([prompt]))
    assert torch.equal(default["crossattn"][..., :WIDTH], hidden[-2])  # SDXL's CLIP-L: penultimate, no norm

    attach(sdxl, emphasis="None", CLIP_stop_at_last_layers=2)
    assert torch.equal(cond(sdxl, Batch([prompt]))["crossattn"], default["crossattn"])

    attach(sdxl, emphasis="None", CLIP_stop_at_last_layers=1, sdxl_clip_l_skip=True)
    skipped = cond(sdxl, Batch([prompt]))
    assert torch.equal(skipped["crossattn"][..., :WIDTH], hidden[-1])  # hidden state -1, still no final norm
    assert torch.equal(skipped["crossattn"][..., WIDTH:], default["crossattn"][..., WIDTH:])
    assert torch.equal(skipped["vector"], default["vector"])

    attach(sdxl, emphasis="None", CLIP_stop_at_last_layers=2, sdxl_clip_l_skip=True)
    assert torch.equal(cond(sdxl, Batch([prompt]))["crossattn"], default["crossattn"])


# --- (d) textual inversion with clip_l / clip_g halves -------------------------------------------

def test_sdxl_embedding_halves_go_to_their_encoders(sdxl, attach, tmp_path):
    clip_l, clip_g = embedders(sdxl)
    folder = tmp_path / "embeddings"
    folder.mkdir()
    torch.manual_seed(5)
    vec_l, vec_g = torch.randn(2, WIDTH), torch.randn(2, WIDTH)
    path = folder / "tinyxl.safetensors"
    save_file({"clip_l": vec_l, "clip_g": vec_g}, str(path))
    torch.save({"string_to_param": {"*": torch.randn(1, WIDTH)}}, folder / "sd1only.pt")
    db = EmbeddingDatabase()
    db.add_embedding_dir(str(folder))
    hijack = StableDiffusionModelHijack(embedding_db=db, settings=lambda: make_settings(emphasis="None"))
    hijack.hijack(sdxl)
    try:
        db.load_textual_inversion_embeddings()
        assert list(db.word_embeddings) == ["tinyxl"] and list(db.skipped_embeddings) == ["sd1only"]
        assert db.expected_shape == 2 * WIDTH

        head_l, head_g = ids_of(clip_l, "a photo of"), ids_of(clip_g, "a photo of")
        cat = ids_of(clip_l, "cat")
        with vectors_as_tokens(clip_l, vec_l) as planted_l, vectors_as_tokens(clip_g, vec_g) as planted_g:
            crossattn, pooled = both_encoders(sdxl, [row(head_l + planted_l + cat, EOS_ID)],
                                              [row(head_g + planted_g + cat, 0)])
        out = cond(sdxl, Batch(["a photo of tinyxl cat"]))
        assert torch.allclose(out["crossattn"], crossattn, **TIGHT)
        assert torch.allclose(out["vector"][:, :WIDTH], pooled, **TIGHT)
        assert hijack.get_prompt_lengths("a photo of tinyxl cat") == (6, 75)

        # A1111 writes the hashes once per text encoder, appending the earlier value
        short = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        assert hijack.extra_generation_params["TI hashes"] == f"tinyxl: {short}, tinyxl: {short}"
        assert hijack.clip.encode_embedding_init_text("a cat", 2).shape == (2, 2 * WIDTH)
    finally:
        hijack.undo_hijack(sdxl)
