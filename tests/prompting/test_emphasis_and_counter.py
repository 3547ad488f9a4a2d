"""Emphasis modes on a small tensor, the chunk-by-chunk encoder loop, and the token counter."""
from __future__ import annotations

import pytest
import torch

from modules.prompting import emphasis
from modules.prompting.emphasis import apply_emphasis
from modules.prompting.text_encoding import emphasis_infotext, encode_prompts, ti_hashes_infotext
from modules.prompting.textual_inversion.embedding import Embedding
from modules.prompting.token_counter import prompt_token_count

Z = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
MULT = [[1.0, 2.0]]


def test_original_restores_the_mean():
    # multiplied: [[1, 2], [6, 8]], mean 4.25; scaled by 2.5 / 4.25 = 10 / 17
    out = apply_emphasis("Original", Z, MULT)
    assert torch.allclose(out, torch.tensor([[[10 / 17, 20 / 17], [60 / 17, 80 / 17]]]))
    assert out.mean().item() == pytest.approx(2.5)


def test_no_norm_only_multiplies():
    assert torch.equal(apply_emphasis("No norm", Z, MULT), torch.tensor([[[1.0, 2.0], [6.0, 8.0]]]))


@pytest.mark.parametrize("mode", ["None", "Ignore"])
def test_modes_that_leave_z_alone(mode):
    assert torch.equal(apply_emphasis(mode, Z, MULT), Z)


def test_option_lookup():
    assert [o.name for o in emphasis.options] == ["None", "Ignore", "Original", "No norm"]
    assert emphasis.get_current_option("no such mode") is emphasis.EmphasisOriginal
    assert emphasis.get_options_descriptions().startswith("None: ")


def test_encode_prompts_chunk_loop(tok):
    seen_rows = []

    def encode_chunk(rows, fixes):
        seen_rows.append(rows)
        return torch.ones(len(rows), 77, 2) * torch.tensor([1.0, 2.0]), torch.full((len(rows), 3), float(len(seen_rows)))

    emb = Embedding(torch.zeros(1, 768), "mytoken")
    emb.vectors, emb.shape = 1, 768
    emb.set_hash("0123456789abcdef" * 4)
    db_ids = tok(["mytoken"])[0]

    def find(tokens, offset):
        return (emb, len(db_ids)) if list(tokens[offset:offset + len(db_ids)]) == db_ids else (None, None)

    out = encode_prompts(["(cat) mytoken", " ".join(["dog"] * 80)], tok, encode_chunk, emphasis="No norm",
                         find_embedding=find)
    assert out.z.shape == (2, 154, 2)
    assert out.z[0, 1].tolist() == pytest.approx([1.1, 2.2])  # weighted token
    assert out.z[0, 80].tolist() == [1.0, 2.0]  # first text's second chunk is an empty chunk
    assert seen_rows[1][0][:2] == [49406, 49407]
    assert out.pooled[0, 0].item() == 1  # pooled output of the first chunk
    assert out.token_count == 80
    assert list(out.used_embeddings) == ["mytoken"]
    assert ti_hashes_infotext(out.used_embeddings) == "mytoken: 0123456789ab"
    assert ti_hashes_infotext(out.used_embeddings, previous="x: 1") == "mytoken: 0123456789ab, x: 1"
    assert ti_hashes_infotext({}) is None


def test_emphasis_infotext():
    assert emphasis_infotext(["(a)"], "No norm") == "No norm"
    assert emphasis_infotext(["(a)"], "Original") is None
    assert emphasis_infotext(["a"], "Ignore") is None


@pytest.mark.parametrize("text,positive,expected", [
    ("cat [dog:bird bird bird:5]", True, (4, 75)),  # the longest scheduled variant
    ("cat AND dog dog dog", True, (3, 75)),  # positive prompts are split on AND
    ("cat AND dog dog dog", False, (5, 75)),  # negative prompts are not ("and" is a token)
    ("<lora:x:1> cat", True, (1, 75)),
    (" ".join(["cat"] * 80), True, (80, 150)),
    ("cat BREAK dog", True, (76, 150)),
    ("", True, (0, 75)),
])
def test_token_counter(tok, text, positive, expected):
    assert prompt_token_count(text, 20, tok, is_positive=positive) == expected
