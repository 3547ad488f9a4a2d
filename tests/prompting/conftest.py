"""Shared fixtures: CLIP's tokenizer from open_clip (offline, it ships the BPE vocabulary)."""
from __future__ import annotations

import pytest

from modules.prompting.chunking import TokenizerAdapter


@pytest.fixture(scope="session")
def clip_tokenizer():
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer()


@pytest.fixture(scope="session")
def tok(clip_tokenizer):
    """SD1-style: padding with the end token."""
    t = clip_tokenizer
    return TokenizerAdapter(encode=t.encode, comma_token=t.encoder[",</w>"], id_start=t.sot_token_id,
                            id_end=t.eot_token_id, id_pad=t.eot_token_id)


@pytest.fixture(scope="session")
def ids(clip_tokenizer):
    """Token id of a word that is a single token."""
    def of(word):
        encoded = clip_tokenizer.encode(word)
        assert len(encoded) == 1, word
        return encoded[0]
    return of
