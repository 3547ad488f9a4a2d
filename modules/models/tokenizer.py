"""CLIP's byte-level BPE tokenizer, offline, from the vocabulary file open_clip ships.

Two text clean-ups exist in A1111: SD1 and SDXL's CLIP-L go through
transformers' ``CLIPTokenizer`` (ftfy, whitespace, lower case), SD2 and SDXL's
OpenCLIP-G through open_clip's tokenizer, which also unescapes HTML entities.
``unescape_html`` picks between them; the BPE itself is the same.
"""
from __future__ import annotations

import gzip
import html
import importlib.util
from functools import lru_cache
from pathlib import Path

import ftfy
import regex

BOS_ID = 49406
EOS_ID = 49407
VOCAB_SIZE = 49408

_MERGE_COUNT = 49152 - 256 - 2
_TOKEN_PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE)
_WHITESPACE = regex.compile(r"\s+")


def bundled_vocab_path() -> Path:
    """The BPE merges file inside the installed open_clip package (found without importing it)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("open_clip_torch is not installed; it provides the CLIP BPE vocabulary")
    path = Path(list(spec.submodule_search_locations)[0]) / "bpe_simple_vocab_16e6.txt.gz"
    if not path.is_file():
        raise FileNotFoundError(f"CLIP BPE vocabulary not found at {path}")
    return path


def _byte_alphabet() -> dict[int, str]:
    """Map each byte to a printable character; unprintable bytes get code points from 256 up."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@lru_cache(maxsize=4)
def _load_tables(path: str) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    lines = gzip.open(path).read().decode("utf-8").split("\n")[1:_MERGE_COUNT + 1]
    merges = [tuple(line.split()) for line in lines]
    symbols = list(_byte_alphabet().values())
    vocab_list = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(vocab_list)}
    ranks = {pair: i for i, pair in enumerate(merges)}
    return vocab, ranks


class ClipTokenizer:
    """Text -> CLIP token ids without special tokens; ``encode`` is cached per word."""

    bos_id = BOS_ID
    eos_id = EOS_ID

    def __init__(self, unescape_html: bool = True, vocab_path: Path | None = None) -> None:
        self.unescape_html = unescape_html
        self.vocab, self._ranks = _load_tables(str(vocab_path or bundled_vocab_path()))
        self._bytes = _byte_alphabet()
        self._cache: dict[str, list[int]] = {
            "<|startoftext|>": [BOS_ID], "<|endoftext|>": [EOS_ID]}

    def clean(self, text: str) -> str:
        text = ftfy.fix_text(text)
        if self.unescape_html:
            text = html.unescape(html.unescape(text))
        return _WHITESPACE.sub(" ", text.strip()).strip().lower()

    def _bpe(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        parts = [self._bytes[b] for b in word.encode("utf-8")]
        parts[-1] += "</w>"
        while len(parts) > 1:
            best_rank, best_at = None, -1
            for i in range(len(parts) - 1):
                rank = self._ranks.get((parts[i], parts[i + 1]))
                if rank is not None and (best_rank is None or rank < best_rank):
                    best_rank, best_at = rank, i
            if best_rank is None:
                break
            first, second = parts[best_at], parts[best_at + 1]
            merged: list[str] = []
            i = 0
            # Merge every occurrence of the best pair in one pass, left to right.
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == first and parts[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        ids = [self.vocab[p] for p in parts]
        if len(self._cache) < 100_000:
            self._cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in _TOKEN_PATTERN.findall(self.clean(text)):
            ids.extend(self._bpe(word))
        return ids

    def __call__(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: list[int]) -> str:
        inverse = getattr(self, "_inverse", None)
        if inverse is None:
            inverse = self._inverse = {i: t for t, i in self.vocab.items()}
        byte_of = {c: b for b, c in self._bytes.items()}
        words = "".join(inverse[i] for i in ids).split("</w>")
        data = b" ".join(bytes(byte_of[c] for c in w) for w in words)
        return data.decode("utf-8", errors="replace").strip()
