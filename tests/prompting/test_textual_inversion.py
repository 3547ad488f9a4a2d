"""Embedding files (SPEC 4.5, 9.3): every format, shape filtering, images, refused pickles, refresh, API shape."""
from __future__ import annotations

import hashlib
import os

import pytest
import safetensors.torch
import torch
from PIL import Image

from modules.prompting.textual_inversion.database import EmbeddingDatabase, expected_shape_for
from modules.prompting.textual_inversion.image_data import lcg

from .ti_files import hidden_data_image, save_png_with_text_chunk


def vec(*shape):
    return torch.arange(int(torch.tensor(shape).prod()), dtype=torch.float32).reshape(shape) / 1000


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def emb_dir(tmp_path):
    d = tmp_path / "embeddings"
    (d / "sub").mkdir(parents=True)
    torch.save({"string_to_token": {"*": 265}, "string_to_param": {"*": vec(2, 768)}, "name": "inner name",
                "step": 500, "sd_checkpoint": "abcd1234", "sd_checkpoint_name": "model-x"}, d / "a1111.pt")
    torch.save({"string_to_param": torch.nn.ParameterDict({"*": torch.nn.Parameter(vec(4, 768))})},
               d / "old paramdict.pt")
    torch.save({"<cat-toy>": vec(768)}, d / "concept.bin")
    safetensors.torch.save_file({"emb_params": vec(3, 768)}, str(d / "community.safetensors"))
    safetensors.torch.save_file({"clip_l": vec(2, 768), "clip_g": vec(2, 1280)}, str(d / "sdxl.safetensors"))
    torch.save({"string_to_param": {"*": vec(1, 1024)}}, d / "sd2.pt")
    safetensors.torch.save_file({"emb_params": vec(5, 768)}, str(d / "sub" / "nested.safetensors"))
    torch.save({"string_to_param": {"a": vec(1, 768), "b": vec(1, 768)}}, d / "two terms.pt")
    (d / "empty.pt").write_bytes(b"")
    (d / "notes.txt").write_text("not an embedding")
    save_png_with_text_chunk(d / "chunk.png", {"string_to_param": {"*": vec(2, 768)}, "name": "pngname", "step": 7})
    hidden_data_image({"string_to_param": {"*": vec(1, 768)}, "name": "hiddenname"},
                      Image.new("RGB", (24, 24), (200, 150, 100))).save(d / "hidden.png")
    save_png_with_text_chunk(d / "chunk.preview.png", {"string_to_param": {"*": vec(1, 768)}, "name": "preview"})
    Image.new("RGB", (8, 8), (10, 20, 30)).save(d / "plain picture.png")
    return d


def make_db(emb_dir, tokenizer=None, expected=768):
    db = EmbeddingDatabase(tokenizer=tokenizer, expected_shape=expected)
    db.add_embedding_dir(str(emb_dir))
    db.load_textual_inversion_embeddings()
    return db


def test_every_format_and_shape_filter(emb_dir):
    db = make_db(emb_dir)
    assert list(db.word_embeddings) == ["a1111", "community", "concept", "hiddenname", "nested", "old paramdict",
                                        "pngname"]
    assert sorted(db.skipped_embeddings) == ["sd2", "sdxl"]
    got = {name: (e.vectors, e.shape) for name, e in {**db.word_embeddings, **db.skipped_embeddings}.items()}
    assert got == {"a1111": (2, 768), "community": (3, 768), "concept": (1, 768), "hiddenname": (1, 768),
                   "nested": (5, 768), "old paramdict": (4, 768), "pngname": (2, 768), "sd2": (1, 1024),
                   "sdxl": (2, 2048)}
    a = db.word_embeddings["a1111"]
    assert (a.step, a.sd_checkpoint, a.sd_checkpoint_name) == (500, "abcd1234", "model-x")
    assert a.vec.dtype == torch.float32 and torch.equal(a.vec, vec(2, 768))
    assert torch.allclose(db.word_embeddings["hiddenname"].vec, vec(1, 768))
    assert set(db.skipped_embeddings["sdxl"].vec) == {"clip_l", "clip_g"}
    assert list(db.load_errors) == [str(emb_dir / "two terms.pt")]


def test_model_widths(emb_dir):
    assert expected_shape_for([768, 1280]) == 2048 and expected_shape_for(1024) == 1024
    sdxl = make_db(emb_dir, expected=expected_shape_for([768, 1280]))
    assert list(sdxl.word_embeddings) == ["sdxl"]
    everything = make_db(emb_dir, expected=-1)
    assert len(everything.word_embeddings) == 9 and not everything.skipped_embeddings


def test_malicious_pickle_is_refused(emb_dir, tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"string_to_param": {"*": Evil(str(marker))}}, emb_dir / "evil.pt")
    db = make_db(emb_dir)
    assert not marker.exists()
    assert "evil" not in db.word_embeddings
    message = db.load_errors[str(emb_dir / "evil.pt")]
    assert "refusing to load embedding" in message and "evil.pt" in message


def test_hash_is_lazy_and_full(emb_dir):
    titles = []

    def hasher(filename, title):
        titles.append(title)
        return hashlib.sha256(open(filename, "rb").read()).hexdigest()

    db = EmbeddingDatabase(expected_shape=768, hasher=hasher)
    db.add_embedding_dir(str(emb_dir))
    db.load_textual_inversion_embeddings()
    assert titles == []
    emb = db.word_embeddings["community"]
    expected = hashlib.sha256((emb_dir / "community.safetensors").read_bytes()).hexdigest()
    assert (emb.hash, emb.shorthash) == (expected, expected[:12])
    assert titles == ["textual_inversion/community"]
    emb.hash  # noqa: B018 - computed once
    assert len(titles) == 1
    default = make_db(emb_dir).word_embeddings["community"]
    assert default.shorthash == expected[:12]


def test_new_files_are_picked_up_on_refresh(emb_dir):
    db = make_db(emb_dir)
    db.load_textual_inversion_embeddings()  # unchanged: no re-read
    safetensors.torch.save_file({"emb_params": vec(1, 768)}, str(emb_dir / "sub" / "later.safetensors"))
    stat = os.stat(emb_dir / "sub")
    os.utime(emb_dir / "sub", (stat.st_atime, stat.st_mtime + 5))  # coarse clocks: make the change visible
    db.load_textual_inversion_embeddings()
    assert "later" in db.word_embeddings
    (emb_dir / "sub" / "later.safetensors").unlink()
    db.load_textual_inversion_embeddings(force_reload=True)
    assert "later" not in db.word_embeddings


def test_set_model_forces_a_reload_with_the_new_width(emb_dir):
    db = make_db(emb_dir)
    db.set_model(None, 1024)
    db.load_textual_inversion_embeddings()
    assert list(db.word_embeddings) == ["sd2"]


def test_lookup_by_token_ids(emb_dir, tok):
    db = make_db(emb_dir, tokenizer=tok)
    tokens = tok(["a photo of old paramdict here"])[0]
    emb, length = db.find_embedding_at_position(tokens, 3)
    assert emb.name == "old paramdict" and length == len(tok(["old paramdict"])[0])
    assert db.find_embedding_at_position(tokens, 0) == (None, None)
    db.register_embedding_by_name(None, None, "old paramdict")
    assert db.find_embedding_at_position(tokens, 3) == (None, None)
    assert "old paramdict" not in db.word_embeddings


def test_api_answer(emb_dir):
    answer = make_db(emb_dir).api_answer()
    assert set(answer) == {"loaded", "skipped"}
    assert answer["loaded"]["a1111"] == {"step": 500, "sd_checkpoint": "abcd1234", "sd_checkpoint_name": "model-x",
                                         "shape": 768, "vectors": 2}
    assert answer["skipped"]["sdxl"] == {"step": None, "sd_checkpoint": None, "sd_checkpoint_name": None,
                                         "shape": 2048, "vectors": 2}


def test_print_at_load(emb_dir, capsys):
    db = EmbeddingDatabase(expected_shape=768)
    db.add_embedding_dir(str(emb_dir))
    db.load_textual_inversion_embeddings(print_at_load=True)
    out = capsys.readouterr().out
    assert "Textual inversion embeddings loaded(7): a1111, community" in out
    assert "Textual inversion embeddings skipped(2):" in out


def test_lcg_matches_a1111_reference_values():
    generator = lcg()
    assert [next(generator) for _ in range(12)] == [253, 242, 127, 44, 157, 27, 239, 133, 38, 79, 167, 4]


def test_lossless_webp_with_hidden_data(tmp_path):
    from PIL import features

    if not features.check("webp"):
        pytest.skip("Pillow built without WEBP")
    d = tmp_path / "emb"
    d.mkdir()
    hidden_data_image({"string_to_param": {"*": vec(3, 768)}}, Image.new("RGB", (16, 16), (90, 91, 92))).save(
        d / "webp emb.webp", lossless=True)
    db = make_db(d)
    assert db.word_embeddings["webp emb"].vectors == 3  # no name inside: the file stem
