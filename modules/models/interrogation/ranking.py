"""The CLIP half of "Interrogate CLIP": category files, and the words of each that best match a picture.

Category files are ``<name>.txt`` in the interrogator's folder (A1111's ``interrogate/``: ``artists``,
``flavors``, ``mediums``, ``movements``), one phrase a line.  A name ending in ``.topN.`` (A1111's
pattern, checked on the name without ``.txt``) asks for N matches instead of one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from modules.models.interrogation.clip_model import CONTEXT_LENGTH

_TOP_N = re.compile(r"\.top(\d+)\.")


@dataclass(frozen=True)
class Category:
    """One category file: its name, how many matches it gives, its phrases."""

    name: str
    topn: int
    items: list[str]


def category_names(folder: str | Path) -> list[str]:
    """The names of the category files in ``folder`` (the choices of ``interrogate_clip_skip_categories``)."""
    return sorted(f.stem for f in Path(folder).glob("*.txt"))


def read_categories(folder: str | Path, skip: list[str] | tuple[str, ...] = ()) -> list[Category]:
    """Every category file of ``folder`` but those named in ``skip``, sorted by name."""
    found = []
    for path in sorted(Path(folder).glob("*.txt")):
        if path.stem in skip:
            continue
        match = _TOP_N.search(path.stem)
        with open(path, encoding="utf8") as f:
            lines = [line.strip() for line in f]
        found.append(Category(name=path.stem, topn=1 if match is None else int(match.group(1)), items=lines))
    return found


def tokenize(encode: Callable[[str], list[int]], texts: list[str], bos: int, eos: int) -> torch.Tensor:
    """``clip.tokenize(texts, truncate=True)``: start, tokens, end; cut to 77 with the end token kept; zeros after."""
    out = torch.zeros(len(texts), CONTEXT_LENGTH, dtype=torch.long)
    for row, text in enumerate(texts):
        ids = [bos, *encode(text), eos]
        if len(ids) > CONTEXT_LENGTH:
            ids = ids[:CONTEXT_LENGTH]
            ids[-1] = eos
        out[row, :len(ids)] = torch.tensor(ids)
    return out


def rank(image_features: torch.Tensor, text_features: torch.Tensor, texts: list[str],
         top_count: int) -> list[tuple[str, float]]:
    """The ``top_count`` texts most like the picture, with A1111's score (softmax of 100 x cosine, in percent).

    Both feature sets must be normalised; several picture rows are averaged as A1111 does.
    """
    top_count = min(top_count, len(texts))
    similarity = torch.zeros((1, len(texts)), device=text_features.device)
    for row in image_features:
        similarity += (100.0 * row.unsqueeze(0) @ text_features.T).softmax(dim=-1)
    similarity /= image_features.shape[0]
    top_probs, top_labels = similarity.cpu().topk(top_count, dim=-1)
    return [(texts[int(top_labels[0][i])], float(top_probs[0][i]) * 100) for i in range(top_count)]


def format_matches(caption: str, matches: list[tuple[str, float]], with_ranks: bool) -> str:
    """``caption, match, match...``; ``(match:0.123)`` with ``interrogate_return_ranks``."""
    text = caption
    for match, score in matches:
        text += f", ({match}:{score / 100:.3f})" if with_ranks else f", {match}"
    return text
