"""Parsing one line of "Prompts from file or textbox": ``--flag value`` pairs into processing fields."""
from __future__ import annotations

import shlex
from typing import Any, Callable

from modules.sampling.registry import find_sampler_config


def _string(tag: str) -> str:
    return tag


def _int(tag: str) -> int:
    return int(tag)


def _float(tag: str) -> float:
    return float(tag)


def _boolean(tag: str) -> bool:
    return tag.lower() == "true"


def _sampler(tag: str) -> str:
    """Any sampler name or alias; unknown names are an error naming them."""
    config = find_sampler_config(tag)
    if config is None:
        raise ValueError(f"unknown sampler: {tag}")
    return config.name


PROMPT_TAGS: dict[str, Callable[[str], Any]] = {
    "sd_model": _string,
    "outpath_samples": _string,
    "outpath_grids": _string,
    "prompt_for_display": _string,
    "prompt": _string,
    "negative_prompt": _string,
    "styles": _string,
    "seed": _int,
    "subseed_strength": _float,
    "subseed": _int,
    "seed_resize_from_h": _int,
    "seed_resize_from_w": _int,
    "sampler_index": _int,
    "sampler_name": _sampler,
    "batch_size": _int,
    "n_iter": _int,
    "steps": _int,
    "cfg_scale": _float,
    "width": _int,
    "height": _int,
    "restore_faces": _boolean,
    "tiling": _boolean,
    "do_not_save_samples": _boolean,
    "do_not_save_grid": _boolean,
}
"""The flags a line may carry and how each value is read (A1111's list)."""

MULTI_WORD = ("prompt", "negative_prompt")


def cmdargs(line: str) -> dict[str, Any]:
    """``--prompt a cat --steps 20`` -> ``{"prompt": "a cat", "steps": 20}``.

    ``--prompt`` and ``--negative_prompt`` take every word up to the next ``--``;
    other flags take one (shell-quoted) value.  Unknown flags raise ``ValueError``.
    """
    args = shlex.split(line)
    res: dict[str, Any] = {}
    pos = 0
    while pos < len(args):
        arg = args[pos]
        if not arg.startswith("--"):
            raise ValueError(f'must start with "--": {arg}')
        if pos + 1 >= len(args):
            raise ValueError(f"missing argument for command line option {arg}")
        tag = arg[2:]
        if tag in MULTI_WORD:
            pos += 1
            words = [args[pos]]
            pos += 1
            while pos < len(args) and not args[pos].startswith("--"):
                words.append(args[pos])
                pos += 1
            res[tag] = " ".join(words)
            continue
        func = PROMPT_TAGS.get(tag)
        if func is None:
            raise ValueError(f"unknown commandline option: {arg}")
        res[tag] = func(args[pos + 1])
        pos += 2
    if "styles" in res:
        res["styles"] = [s.strip() for s in res["styles"].split(",") if s.strip()]
    return res
