"""BERT's uncased WordPiece tokenizer (``bert-base-uncased``, as BLIP uses it), read from its ``vocab.txt``.

BLIP adds two tokens after the 30522 of the vocabulary: ``[DEC]`` (the decoder's start token) and
``[ENC]``.  Decoding drops every special token and joins word pieces as transformers' ``decode``
with ``clean_up_tokenization_spaces`` does.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BLIP_ADDED_TOKENS = ("[DEC]", "[ENC]")

_CLEANUPS = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
             (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F or 0x2B820 <= code <= 0x2CEAF
            or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F)


class BertTokenizer:
    """Text <-> ids with one ``vocab.txt`` (one token a line, the line number is the id)."""

    def __init__(self, vocab: list[str]) -> None:
        self.tokens = list(vocab) + [t for t in BLIP_ADDED_TOKENS if t not in vocab]
        self.ids = {token: i for i, token in enumerate(self.tokens)}
        missing = [t for t in SPECIAL_TOKENS if t not in self.ids]
        if missing:
            raise ValueError(f"BERT vocabulary lacks the special tokens {', '.join(missing)}")
        self.special_ids = {self.ids[t] for t in SPECIAL_TOKENS + BLIP_ADDED_TOKENS}

    @classmethod
    def from_file(cls, path: str | Path) -> "BertTokenizer":
        """Read ``vocab.txt``."""
        with open(path, encoding="utf-8") as f:
            return cls([line.rstrip("\n") for line in f])

    def token_id(self, token: str) -> int:
        return self.ids[token]

    def _basic_words(self, text: str) -> list[str]:
        text = "".join(" " if ch.isspace() else ch for ch in text
                       if not (ord(ch) in (0, 0xFFFD) or unicodedata.category(ch) in ("Cc", "Cf") and not ch.isspace()))
        text = "".join(f" {ch} " if _is_cjk(ord(ch)) else ch for ch in text)
        words: list[str] = []
        for word in text.lower().split():
            word = "".join(ch for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch) != "Mn")
            current = ""
            for ch in word:
                if _is_punctuation(ch):
                    words += [current, ch] if current else [ch]
                    current = ""
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    def _word_pieces(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.ids["[UNK]"]]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    pieces.append(self.ids[piece])
                    break
                end -= 1
            else:
                return [self.ids["[UNK]"]]
            start = end
        return pieces

    def encode(self, text: str) -> list[int]:
        """``[CLS] ... [SEP]`` ids of ``text``."""
        ids = [self.ids["[CLS]"]]
        for word in self._basic_words(text):
            ids += self._word_pieces(word)
        return ids + [self.ids["[SEP]"]]

    def decode(self, ids: list[int]) -> str:
        """The text of ``ids`` without special tokens, word pieces joined, spaces before punctuation removed."""
        text = " ".join(self.tokens[i] for i in ids if i not in self.special_ids).replace(" ##", "").strip()
        for before, after in _CLEANUPS:
            text = text.replace(before, after)
        return text
