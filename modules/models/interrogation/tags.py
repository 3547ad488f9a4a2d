"""DeepBooru's answer: the tags over the threshold, formatted by A1111's ``deepbooru_*`` settings."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

_SPECIAL = re.compile(r"([\\()])")


@dataclass(frozen=True)
class TagFormat:
    """The settings that shape the answer (A1111's names in the comments)."""

    threshold: float = 0.5  # interrogate_deepbooru_score_threshold
    sort_alpha: bool = True  # deepbooru_sort_alpha (else by score, highest first)
    use_spaces: bool = True  # deepbooru_use_spaces
    escape: bool = True  # deepbooru_escape: backslash before ( ) \
    filter_tags: str = ""  # deepbooru_filter_tags: comma-separated, spaces or underscores
    include_ranks: bool = False  # interrogate_return_ranks


def format_tags(tags: Sequence[str], probabilities: Sequence[float], fmt: TagFormat) -> str:
    """``tag, tag, ...`` for the tags at or over the threshold; ``rating:*`` tags are never given."""
    scores = {tag: float(p) for tag, p in zip(tags, probabilities) if p >= fmt.threshold and not tag.startswith("rating:")}
    if fmt.sort_alpha:
        ordered = sorted(scores)
    else:
        ordered = [tag for tag, _ in sorted(scores.items(), key=lambda item: -item[1])]
    filtered = {x.strip().replace(" ", "_") for x in fmt.filter_tags.split(",")}
    out = []
    for tag in ordered:
        if tag in filtered:
            continue
        text = tag.replace("_", " ") if fmt.use_spaces else tag
        if fmt.escape:
            text = _SPECIAL.sub(r"\\\1", text)
        if fmt.include_ranks:
            text = f"({text}:{scores[tag]:.3f})"
        out.append(text)
    return ", ".join(out)
