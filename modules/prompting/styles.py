"""Prompt styles: named prompt / negative-prompt snippets kept in ``styles.csv``.

Applying a style: if its text contains ``{prompt}``, the user's prompt is put
there; otherwise the style text is appended after ``", "`` (empty parts are
dropped).  Several files may be given (``--styles-file`` repeated or a glob);
with more than one, a divider pseudo-style named after each file precedes its
styles in the dropdown.  Saving writes each style back to the file it came from
(new styles go to the first file), keeping the old file as ``<file>.bak``.
"""
from __future__ import annotations

import csv
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from modules.prompting import limits

log = logging.getLogger(__name__)

DIVIDER_PATH = "do_not_save"
"""The ``path`` of divider pseudo-styles; they are never written."""


class PromptStyle(NamedTuple):
    """One style; ``path`` is the CSV file it belongs to (``None`` until saved)."""

    name: str
    prompt: str | None
    negative_prompt: str | None
    path: str | None = None


def merge_prompts(style_prompt: str | None, prompt: str) -> str:
    """``prompt`` with one style text applied (``{prompt}`` placeholder, or appended with ``", "``)."""
    style_prompt = style_prompt or ""
    if "{prompt}" in style_prompt:
        return style_prompt.replace("{prompt}", prompt)
    return ", ".join(part for part in (prompt.strip(), style_prompt.strip()) if part)


def apply_styles_to_prompt(prompt: str, styles: Iterable[str | None], key: str = "prompt") -> str:
    """``prompt`` with each style text applied in order.

    A style with several ``{prompt}`` placeholders multiplies the prompt, and a
    request may list it many times; the result's length is worked out before
    each step, and :class:`~modules.prompting.limits.PromptLimitError` (``key``
    names the field) is raised once it would pass ``MAX_PROMPT_CHARS``.
    """
    for style in styles:
        text = style or ""
        placeholders = text.count("{prompt}")
        if placeholders:
            length = len(text) + placeholders * (len(prompt) - len("{prompt}"))
        else:
            length = len(prompt) + len(text) + 2
        if length > limits.MAX_PROMPT_CHARS:
            raise limits.PromptLimitError(f"{key} with its styles applied would be {length} characters long; "
                                          f"the limit is {limits.MAX_PROMPT_CHARS}", key)
        prompt = merge_prompts(style, prompt)
    return prompt


def extract_style_text_from_prompt(style_text: str | None, prompt: str) -> tuple[bool, str]:
    """Undo one style on one prompt: ``(True, prompt without it)`` or ``(False, prompt)``.

    >>> extract_style_text_from_prompt("masterpiece", "1girl, art by greg, masterpiece")
    (True, '1girl, art by greg')
    >>> extract_style_text_from_prompt("masterpiece, {prompt}", "masterpiece, 1girl")
    (True, '1girl')
    """
    stripped_prompt = prompt.strip()
    stripped_style = (style_text or "").strip()
    if "{prompt}" in stripped_style:
        parts = stripped_style.split("{prompt}")
        if len(parts) == 2:
            left, right = parts
            if stripped_prompt.startswith(left) and stripped_prompt.endswith(right):
                return True, stripped_prompt[len(left):len(stripped_prompt) - len(right)]
    elif stripped_prompt.endswith(stripped_style):
        rest = stripped_prompt[:len(stripped_prompt) - len(stripped_style)]
        if rest.endswith(", "):
            rest = rest[:-2]
        return True, rest
    return False, prompt


def extract_original_prompts(style: PromptStyle, prompt: str, negative_prompt: str) -> tuple[bool, str, str]:
    """Undo ``style`` on both prompts; it matches only if both its texts match."""
    if not style.prompt and not style.negative_prompt:
        return False, prompt, negative_prompt
    match_positive, positive = extract_style_text_from_prompt(style.prompt, prompt)
    if not match_positive:
        return False, prompt, negative_prompt
    match_negative, negative = extract_style_text_from_prompt(style.negative_prompt, negative_prompt)
    if not match_negative:
        return False, prompt, negative_prompt
    return True, positive, negative


def _is_pattern(path: str | Path) -> bool:
    name = os.path.basename(str(path))
    return "*" in name or "?" in name


def _glob(pattern: str | Path) -> list[Path]:
    folder, name = os.path.split(str(pattern))
    return sorted(Path(folder).glob(name))


class StyleDatabase:
    """The styles of one or more CSV files (``shared.prompt_styles``)."""

    def __init__(self, paths: str | Path | Sequence[str | Path]) -> None:
        """``paths``: files or glob patterns (``--styles-file``); the first names the default file.

        When the first is a pattern, the default file is its first match, or
        ``styles.csv`` in that folder.
        """
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        if not paths:
            raise ValueError("StyleDatabase needs at least one styles file or pattern")
        self.no_style = PromptStyle("None", "", "", None)
        self.styles: dict[str, PromptStyle] = {}
        self.paths: list[str | Path] = paths
        self.all_styles_files: list[Path] = []
        if _is_pattern(paths[0]):
            matches = _glob(paths[0])
            folder = os.path.dirname(str(paths[0]))
            self.default_path = matches[0] if matches else Path(folder, "styles.csv")
            self.paths.insert(0, self.default_path)
        else:
            self.default_path = Path(paths[0])
        self.prompt_fields = [f for f in PromptStyle._fields if f != "path"]
        self.reload()

    def reload(self) -> None:
        """Read every styles file again (missing files are fine: they are created on save)."""
        self.styles.clear()
        found: list[Path] = []
        for pattern in self.paths:
            found.extend(_glob(pattern) if _is_pattern(pattern) else [Path(pattern)])
        self.all_styles_files = list(dict.fromkeys(found))
        for styles_file in self.all_styles_files:
            if len(self.all_styles_files) > 1:
                divider = f" {styles_file.stem.upper()} ".center(40, "-")
                self.styles[divider] = PromptStyle(divider, None, None, DIVIDER_PATH)
            if styles_file.is_file():
                self.load_from_csv(styles_file)

    def load_from_csv(self, path: str | Path) -> None:
        """Add the styles of one CSV file (``name,prompt,negative_prompt``, or the old ``name,text``).

        A BOM is tolerated, rows whose name starts with ``#`` are skipped, and a
        broken file is reported and skipped.
        """
        try:
            with open(path, "r", encoding="utf-8-sig", newline="") as file:
                for row in csv.DictReader(file, skipinitialspace=True):
                    name = row.get("name")
                    if not name or name.startswith("#"):
                        continue
                    prompt = row["prompt"] if "prompt" in row else row.get("text")
                    self.styles[name] = PromptStyle(name, prompt or "", row.get("negative_prompt") or "", str(path))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            log.error("Error loading styles from %s: %s", path, e)

    def get_style_paths(self) -> set[str]:
        """The files to write: the default file and every style's file (styles without one get the default)."""
        for style in list(self.styles.values()):
            if not style.path:
                self.styles[style.name] = style._replace(path=str(self.default_path))
        paths = {str(self.default_path)} | {s.path for s in self.styles.values() if s.path}
        paths.discard(DIVIDER_PATH)
        return paths

    def get_style_prompts(self, styles: Iterable[str]) -> list[str | None]:
        return [self.styles.get(x, self.no_style).prompt for x in styles]

    def get_negative_style_prompts(self, styles: Iterable[str]) -> list[str | None]:
        return [self.styles.get(x, self.no_style).negative_prompt for x in styles]

    def apply_styles_to_prompt(self, prompt: str, styles: Iterable[str]) -> str:
        """``prompt`` with the named styles applied in order (unknown names do nothing)."""
        return apply_styles_to_prompt(prompt, self.get_style_prompts(styles), "prompt")

    def apply_negative_styles_to_prompt(self, prompt: str, styles: Iterable[str]) -> str:
        """The negative prompt with the named styles' negative texts applied in order."""
        return apply_styles_to_prompt(prompt, self.get_negative_style_prompts(styles), "negative_prompt")

    def save_styles(self, path: str | None = None) -> None:
        """Write every styles file (``path`` is ignored, kept for old callers).

        Each file is first copied to ``<file>.bak``, then replaced atomically,
        so a crash never leaves a half-written file.
        """
        style_paths = self.get_style_paths()
        csv_names = {os.path.split(p)[1].lower() for p in style_paths}
        for style_path in style_paths:
            rows = [{k: v for k, v in s._asdict().items() if k != "path"} for s in self.styles.values()
                    if s.path == style_path and s.name.lower().strip("# ") not in csv_names]
            _write_csv_atomically(style_path, self.prompt_fields, rows)

    def save_style(self, name: str, prompt: str, negative_prompt: str) -> PromptStyle:
        """Create or update a style (it stays in its file) and save."""
        existing = self.styles.get(name)
        style = PromptStyle(name, prompt, negative_prompt, existing.path if existing is not None else None)
        self.styles[name] = style
        self.save_styles()
        return self.styles[name]

    def delete_style(self, name: str) -> None:
        """Remove a style and save."""
        self.styles.pop(name, None)
        self.save_styles()

    def extract_styles_from_prompt(self, prompt: str, negative_prompt: str) -> tuple[list[str], str, str]:
        """``(style names, prompt, negative_prompt)`` with the styles found at the prompts' ends removed.

        Styles are peeled off one by one (the last one applied is found first)
        and returned in the order they would be applied.
        """
        extracted = []
        applicable = list(self.styles.values())
        while True:
            found = None
            for style in applicable:
                is_match, new_prompt, new_negative = extract_original_prompts(style, prompt, negative_prompt)
                if is_match:
                    found, prompt, negative_prompt = style, new_prompt, new_negative
                    break
            if found is None:
                break
            applicable.remove(found)
            extracted.append(found.name)
        return list(reversed(extracted)), prompt, negative_prompt

    def api_items(self) -> list[dict[str, str | None]]:
        """The ``/sdapi/v1/prompt-styles`` answer: ``[{"name", "prompt", "negative_prompt"}, ...]``."""
        return [{"name": s.name, "prompt": s.prompt, "negative_prompt": s.negative_prompt}
                for s in self.styles.values()]


def _write_csv_atomically(path: str, fields: list[str], rows: list[dict]) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if os.path.exists(path):
        shutil.copy(path, f"{path}.bak")
    # mkstemp makes a private (0600) file; the styles file keeps its usual mode.
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
    fd, tmp = tempfile.mkstemp(prefix=".styles-", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
