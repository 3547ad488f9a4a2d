"""Prompt templates for training: ``textual_inversion_templates/*.txt`` (``--textual-inversion-templates-dir``).

Each line of a template is one prompt; ``[name]`` becomes the embedding's (or hypernetwork's) name
and ``[filewords]`` the picture's caption.  Templates are known by their file name, as in A1111.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_TEMPLATE = "style_filewords.txt"


@dataclass(frozen=True)
class Template:
    """One template file."""

    name: str
    path: str


def list_templates(directory: str | None) -> dict[str, Template]:
    """``{file name: Template}`` for every file under ``directory`` (walked recursively, sorted)."""
    found: dict[str, Template] = {}
    if not directory or not os.path.isdir(directory):
        return found
    for root, dirs, files in os.walk(directory, followlinks=True):
        dirs.sort()
        for fn in sorted(files):
            found[fn] = Template(fn, os.path.join(root, fn))
    return found


def read_template_lines(path: str) -> list[str]:
    """The template's prompts: its lines, stripped (an empty line is an empty prompt, as in A1111)."""
    with open(path, encoding="utf8") as file:
        return [line.strip() for line in file.read().splitlines()] or [""]
