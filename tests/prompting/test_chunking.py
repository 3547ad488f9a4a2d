"""75-token chunks with open_clip's CLIP tokenizer (SPEC 4.4, 4.5): commas, BREAK, weights, embeddings."""
from __future__ import annotations

import torch

from modules.prompting.chunking import (PromptChunkFix, TokenizerAdapter, empty_chunk, pad_after_end, process_texts,
                                        target_prompt_token_count, tokenize_line)
from modules.prompting.textual_inversion.database import EmbeddingDatabase
from modules.prompting.textual_inversion.embedding import Embedding

START, END = 49406, 49407


def words(word, n):
    return " ".join([word] * n)


def test_short_prompt_is_one_padded_chunk(tok, ids):
    chunks, count = tokenize_line("cat", tok)
    assert count == 1 and len(chunks) == 1
    assert chunks[0].tokens == [START, ids("cat")] + [END] * 75
    assert chunks[0].multipliers == [1.0] * 77
    assert chunks[0].fixes == []


def test_empty_prompt(tok):
    chunks, count = tokenize_line("", tok)
    assert count == 0 and len(chunks) == 1
    assert chunks[0].tokens == [START] + [END] * 76
    assert target_prompt_token_count(count) == 75
    assert empty_chunk(tok).tokens == chunks[0].tokens


def test_exactly_75_and_76_tokens(tok, ids):
    chunks, count = tokenize_line(words("cat", 75), tok)
    assert (len(chunks), count, target_prompt_token_count(count)) == (1, 75, 75)
    chunks, count = tokenize_line(words("cat", 76), tok)
    assert (len(chunks), count, target_prompt_token_count(count)) == (2, 76, 150)
    assert chunks[1].tokens == [START, ids("cat")] + [END] * 75
    assert all(len(c.tokens) == 77 and len(c.multipliers) == 77 for c in chunks)


def test_comma_backtrack_moves_words_after_the_last_comma(tok, ids):
    cat, dog, comma = ids("cat"), ids("dog"), tok.comma_token
    prompt = words("cat", 70) + ", " + words("dog", 10)

    chunks, count = tokenize_line(prompt, tok, comma_padding_backtrack=20)
    assert count == 85
    assert chunks[0].tokens == [START] + [cat] * 70 + [comma] + [END] * 4 + [END]
    assert chunks[1].tokens == [START] + [dog] * 10 + [END] * 65 + [END]

    for backtrack in (0, 4):  # off, or the comma is 5 tokens from the end
        chunks, count = tokenize_line(prompt, tok, comma_padding_backtrack=backtrack)
        assert count == 81
        assert chunks[0].tokens == [START] + [cat] * 70 + [comma] + [dog] * 4 + [END]
        assert chunks[1].tokens[:8] == [START] + [dog] * 6 + [END]

    chunks, _ = tokenize_line(prompt, tok, comma_padding_backtrack=5)
    assert chunks[1].tokens[:11] == [START] + [dog] * 10


def test_break_starts_a_new_chunk(tok, ids):
    chunks, count = tokenize_line("cat BREAK dog", tok)
    assert count == 76
    assert [c.tokens[:3] for c in chunks] == [[START, ids("cat"), END], [START, ids("dog"), END]]
    chunks, count = tokenize_line("cat BREAK", tok)
    assert (len(chunks), count) == (1, 75)


def test_emphasis_none_sends_raw_text_and_ignores_break(tok, clip_tokenizer):
    chunks, count = tokenize_line("(cat) BREAK dog", tok, emphasis="None")
    assert count == 5 and len(chunks) == 1
    assert chunks[0].tokens[1:6] == clip_tokenizer.encode("(cat) BREAK dog")
    assert chunks[0].multipliers == [1.0] * 77


def test_weights_become_multipliers(tok, ids):
    for mode in ("Original", "Ignore", "No norm"):
        chunks, _ = tokenize_line("(cat) [dog]", tok, emphasis=mode)
        assert chunks[0].tokens[:4] == [START, ids("cat"), ids("dog"), END]
        assert chunks[0].multipliers[:4] == [1.0, 1.1, 1 / 1.1, 1.0]


def make_db(tok, names_vectors):
    db = EmbeddingDatabase(tokenizer=tok)
    for name, vectors in names_vectors:
        emb = Embedding(torch.zeros(vectors, 768), name)
        emb.vectors, emb.shape = vectors, 768
        db.register_embedding(emb)
    return db


def test_embedding_placeholders_and_fix(tok, ids):
    db = make_db(tok, [("mytoken", 3)])
    emb = db.word_embeddings["mytoken"]
    chunks, count = tokenize_line("a (mytoken:1.5) b", tok, find_embedding=db.find_embedding_at_position)
    assert count == 5
    assert chunks[0].tokens[:7] == [START, ids("a"), 0, 0, 0, ids("b"), END]
    assert chunks[0].multipliers[:7] == [1.0, 1.0, 1.5, 1.5, 1.5, 1.0, 1.0]
    assert chunks[0].fixes == [PromptChunkFix(1, emb)]


def test_embedding_never_straddles_chunks(tok, ids):
    db = make_db(tok, [("mytoken", 3)])
    chunks, count = tokenize_line(words("cat", 73) + " mytoken", tok, find_embedding=db.find_embedding_at_position)
    assert count == 78
    assert chunks[0].tokens == [START] + [ids("cat")] * 73 + [END, END] + [END]
    assert chunks[1].tokens[:5] == [START, 0, 0, 0, END]
    assert chunks[1].fixes[0].offset == 0 and chunks[0].fixes == []


def test_longest_embedding_name_wins(tok, ids):
    db = make_db(tok, [("cat", 1), ("cat toy", 2)])
    chunks, _ = tokenize_line("cat toy", tok, find_embedding=db.find_embedding_at_position)
    assert [f.embedding.name for f in chunks[0].fixes] == ["cat toy"]
    chunks, _ = tokenize_line("cat dog", tok, find_embedding=db.find_embedding_at_position)
    assert [f.embedding.name for f in chunks[0].fixes] == ["cat"]
    assert chunks[0].tokens[:4] == [START, 0, ids("dog"), END]


def test_process_texts_reports_the_longest(tok):
    batch, count = process_texts(["cat", words("cat", 80), "cat"], tok)
    assert [len(c) for c in batch] == [1, 2, 1] and count == 80
    assert batch[0] is batch[2]


def test_openclip_padding_after_the_end_token(tok, ids):
    sd2 = TokenizerAdapter(tok.encode, tok.comma_token, START, END, 0)
    row = tokenize_line("cat", sd2)[0][0].tokens
    assert pad_after_end([row], END, 0) == [[START, ids("cat"), END] + [0] * 74]
    assert pad_after_end([row], END, END) == [row]
