"""File and folder names from patterns like ``[seed]-[prompt_spaces]`` (settings
``samples_filename_pattern`` and ``directories_filename_pattern``).

A tag is ``[name]`` or ``[name<arg>...]``, matched without regard to case; an
unknown tag, or one whose value cannot be made, stays in the name as it is
written.  Some tags stand for "nothing" (``[batch_number]`` in a batch of one,
``[seed_last]`` likewise, ``[denoising]`` when unset) and then also remove the
literal text just before them, so ``[seed]-[batch_number]`` gives ``1234``.
"""
from __future__ import annotations

import datetime
import hashlib
import logging
import os
import re
import string
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from modules.processing.infotext_samplers import SAMPLERS, scheduler_filename_part

log = logging.getLogger(__name__)

WINDOWS_INVALID_CHARS = '#<>:"/\\|?*\n\r\t'
UNIX_INVALID_CHARS = "/"
INVALID_PREFIX = " "
INVALID_POSTFIX = " ."
DEFAULT_MAX_PART_LENGTH = 128

# every punctuation mark but the backslash separates words (A1111's pattern escapes "]" with it)
re_nonletters = re.compile(r"[\s" + re.escape(string.punctuation.replace("\\", "")) + "]+")
re_pattern = re.compile(r"(.*?)(?:\[([^\[\]]+)\]|$)")
re_pattern_arg = re.compile(r"(.*)<([^>]*)>$")


class _Nothing:
    """The value of a tag that stands for nothing and also drops the text before it."""

    def __repr__(self) -> str:
        return "NOTHING_AND_SKIP_PREVIOUS_TEXT"


NOTHING_AND_SKIP_PREVIOUS_TEXT = _Nothing()


@dataclass(frozen=True)
class FilenameRules:
    """How file-name parts are cleaned (flags ``--unix-filenames-sanitization``, ``--filenames-max-length``)."""

    unix_sanitization: bool = False
    max_length: int = DEFAULT_MAX_PART_LENGTH

    @classmethod
    def from_cmd_opts(cls, cmd_opts: Any) -> "FilenameRules":
        """The rules the parsed command line asks for (defaults when ``cmd_opts`` is ``None``)."""
        if cmd_opts is None:
            return cls()
        return cls(bool(getattr(cmd_opts, "unix_filenames_sanitization", False)),
                   int(getattr(cmd_opts, "filenames_max_length", DEFAULT_MAX_PART_LENGTH) or DEFAULT_MAX_PART_LENGTH))

    @property
    def invalid_chars(self) -> str:
        """The characters replaced by ``_``."""
        return UNIX_INVALID_CHARS if self.unix_sanitization else WINDOWS_INVALID_CHARS


def sanitize_filename_part(text: str | None, replace_spaces: bool = True, rules: FilenameRules | None = None) -> str | None:
    """``text`` made safe as (part of) a file name: bad characters become ``_``, leading blanks
    and trailing blanks/dots go, and it is cut to the maximum part length."""
    if text is None:
        return None
    rules = rules or FilenameRules()
    if replace_spaces:
        text = text.replace(" ", "_")
    text = text.translate({ord(c): "_" for c in rules.invalid_chars})
    text = text.lstrip(INVALID_PREFIX)[:rules.max_length]
    return text.rstrip(INVALID_POSTFIX)


@dataclass
class NameContext:
    """What the tags need beyond the processing object (A1111 read these from ``shared``)."""

    model_hash: str | None = None
    """``[model_hash]`` when the processing object has no ``sd_model_hash``."""
    model_name: str | None = None
    """``[model_name]``: the loaded checkpoint's name; else the processing object's ``sd_model_name``."""
    vae_file: str | None = None
    """Path of the loaded VAE file, for ``[vae_filename]`` (``NoneType`` when none)."""
    job_timestamp: str = ""
    """``[job_timestamp]`` when the processing object has none."""
    style_prompts: Callable[[Sequence[str]], Sequence[str]] | None = None
    """The prompt texts of the named styles, for ``[prompt_no_styles]``."""
    samplers: Sequence[Any] = SAMPLERS
    """Samplers (with their default schedule) for ``[scheduler]`` and ``[sampler_scheduler]``."""
    now: Callable[[], datetime.datetime] = field(default=datetime.datetime.now)
    """The clock, replaceable in tests."""


def _setting(settings: Any, key: str, default: Any) -> Any:
    return default if settings is None else getattr(settings, key, default)


class FilenameGenerator:
    """Expands name patterns for one picture.

    ``p`` is the processing object (may be ``None``, as for the Extras tab);
    ``seed``/``prompt`` are this picture's; ``image`` is the PIL image (size and
    ``[image_hash]``); ``zip`` makes batch tags empty (names inside a zip
    archive); ``basename`` is the file's base name (``grid`` for grids).
    """

    default_time_format = "%Y%m%d%H%M%S"

    def __init__(self, p: Any, seed: Any, prompt: str | None, image: Any, zip: bool = False, basename: str = "", *,
                 settings: Any = None, rules: FilenameRules | None = None, context: NameContext | None = None) -> None:
        self.p = p
        self.seed = seed
        self.prompt = prompt
        self.image = image
        self.zip = zip
        self.basename = basename
        self.settings = settings
        self.rules = rules or FilenameRules()
        self.context = context or NameContext()
        self.replacements: dict[str, Callable[..., Any]] = {
            "basename": lambda: self.basename or "img",
            "seed": lambda: self.seed if self.seed is not None else "",
            "seed_first": lambda: self.seed if self.p.batch_size == 1 else self.p.all_seeds[0],
            "seed_last": lambda: NOTHING_AND_SKIP_PREVIOUS_TEXT if self.p.batch_size == 1 else self.p.all_seeds[-1],
            "steps": lambda: self.p and self.p.steps,
            "cfg": lambda: self.p and self.p.cfg_scale,
            "width": lambda: self.image.width,
            "height": lambda: self.image.height,
            "styles": lambda: self.p and self._sanitize(
                ", ".join([s for s in self.p.styles if s != "None"]) or "None", replace_spaces=False),
            "sampler": lambda: self.p and self._sanitize(self.p.sampler_name, replace_spaces=False),
            "sampler_scheduler": lambda: self.p and self._sampler_scheduler(with_sampler=True),
            "scheduler": lambda: self.p and self._sampler_scheduler(with_sampler=False),
            "model_hash": self._model_hash,
            "model_name": lambda: self._sanitize(self.context.model_name or getattr(self.p, "sd_model_name", None),
                                                 replace_spaces=False),
            "date": lambda: self.context.now().strftime("%Y-%m-%d"),
            "datetime": self.datetime,
            "job_timestamp": lambda: getattr(self.p, "job_timestamp", None) or self.context.job_timestamp,
            "prompt_hash": lambda *args: self.string_hash(self.prompt, *args),
            "negative_prompt_hash": lambda *args: self.string_hash(self.p.negative_prompt, *args),
            "full_prompt_hash": lambda *args: self.string_hash(f"{self.p.prompt} {self.p.negative_prompt}", *args),
            "prompt": lambda: self._sanitize(self.prompt),
            "prompt_no_styles": self.prompt_no_style,
            "prompt_spaces": lambda: self._sanitize(self.prompt, replace_spaces=False),
            "prompt_words": self.prompt_words,
            "batch_number": lambda: NOTHING_AND_SKIP_PREVIOUS_TEXT if self.p.batch_size == 1 or self.zip
            else self.p.batch_index + 1,
            "batch_size": lambda: self.p.batch_size,
            "generation_number": lambda: NOTHING_AND_SKIP_PREVIOUS_TEXT
            if (self.p.n_iter == 1 and self.p.batch_size == 1) or self.zip
            else self.p.iteration * self.p.batch_size + self.p.batch_index + 1,
            "hasprompt": self.hasprompt,
            "clip_skip": lambda: _setting(self.settings, "CLIP_stop_at_last_layers", 1),
            "denoising": lambda: self.p.denoising_strength if self.p and self.p.denoising_strength
            else NOTHING_AND_SKIP_PREVIOUS_TEXT,
            "user": lambda: self.p.user,
            "vae_filename": self.get_vae_filename,
            "none": lambda: "",
            "image_hash": self.image_hash,
        }

    def _sanitize(self, text: str | None, replace_spaces: bool = True) -> str | None:
        return sanitize_filename_part(text, replace_spaces, self.rules)

    def _model_hash(self) -> Any:
        if self.p is not None and hasattr(self.p, "sd_model_hash"):
            return self.p.sd_model_hash
        return self.context.model_hash

    def _sampler_scheduler(self, with_sampler: bool) -> Any:
        if not (hasattr(self.p, "scheduler") and hasattr(self.p, "sampler_name")):
            return NOTHING_AND_SKIP_PREVIOUS_TEXT
        scheduler = scheduler_filename_part(self.p.sampler_name, self.p.scheduler, self.context.samplers)
        text = f"{self.p.sampler_name} {scheduler}" if with_sampler else scheduler
        return self._sanitize(text, replace_spaces=False)

    def get_vae_filename(self) -> str:
        """The loaded VAE's file name up to its first dot (``NoneType`` without one)."""
        if self.context.vae_file is None:
            return "NoneType"
        parts = os.path.basename(self.context.vae_file).split(".")
        # a name starting with a dot (".vae.pt") is named by its second part
        return parts[1] if len(parts) > 1 and parts[0] == "" else parts[0]

    def hasprompt(self, *args: str) -> str | None:
        """``[hasprompt<word|fallback>...]``: each word found in the prompt, else its fallback."""
        if self.p is None or self.prompt is None:
            return None
        lower = self.prompt.lower()
        out = ""
        for arg in args:
            if arg == "":
                continue
            division = arg.split("|")
            expected = division[0].lower()
            default = division[1] if len(division) > 1 else ""
            if lower.find(expected) >= 0:
                out += expected
            elif default:
                out += default
        return self._sanitize(out)

    def prompt_no_style(self) -> str | None:
        """The prompt with the texts of its styles taken out."""
        if self.p is None or self.prompt is None:
            return None
        prompt = self.prompt
        style_prompts = self.context.style_prompts(self.p.styles) if self.context.style_prompts else []
        for style in style_prompts:
            if not style:
                continue
            for part in style.split("{prompt}"):
                prompt = prompt.replace(part, "").replace(", ,", ",").strip().strip(",")
            prompt = prompt.replace(style, "").strip().strip(",").strip()
        return self._sanitize(prompt, replace_spaces=False)

    def prompt_words(self) -> str | None:
        """The first ``directories_max_prompt_words`` words of the prompt (``empty`` for none)."""
        words = [w for w in re_nonletters.split(self.prompt or "") if w]
        if not words:
            words = ["empty"]
        limit = _setting(self.settings, "directories_max_prompt_words", 8)
        return self._sanitize(" ".join(words[0:limit]), replace_spaces=False)

    def datetime(self, *args: str) -> str | None:
        """``[datetime]``, ``[datetime<strftime format>]``, ``[datetime<format><IANA time zone>]``."""
        time_format = args[0] if args and args[0] != "" else self.default_time_format
        try:
            zone = ZoneInfo(args[1]) if len(args) > 1 else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None  # an unknown zone means local time, as in A1111
        moment = self.context.now().astimezone(zone)
        try:
            formatted = moment.strftime(time_format)
        except (ValueError, TypeError):
            formatted = moment.strftime(self.default_time_format)
        return self._sanitize(formatted, replace_spaces=False)

    def image_hash(self, *args: str) -> str:
        """sha256 of the pixels, the first ``n`` hex digits for ``[image_hash<n>]`` (all by default)."""
        length = int(args[0]) if args and args[0] != "" else None
        return hashlib.sha256(self.image.tobytes()).hexdigest()[0:length]

    def string_hash(self, text: str, *args: str) -> str:
        """sha256 of ``text``, the first ``n`` hex digits (8 by default)."""
        length = int(args[0]) if args and args[0] != "" else 8
        return hashlib.sha256(text.encode()).hexdigest()[0:length]

    def apply(self, x: str) -> str:
        """``x`` with every known tag replaced."""
        res = ""
        for match in re_pattern.finditer(x):
            text, pattern = match.groups()
            if pattern is None:
                res += text
                continue

            pattern_args: list[str] = []
            while True:
                arg_match = re_pattern_arg.match(pattern)
                if arg_match is None:
                    break
                pattern, arg = arg_match.groups()
                pattern_args.insert(0, arg)

            fun = self.replacements.get(pattern.lower())
            if fun is not None:
                try:
                    replacement = fun(*pattern_args)
                except Exception:  # a tag that cannot be made stays literal, as in A1111
                    log.exception("Error adding [%s] to filename", pattern)
                    replacement = None

                if replacement is NOTHING_AND_SKIP_PREVIOUS_TEXT:
                    continue
                if replacement is not None:
                    res += text + str(replacement)
                    continue

            res += f"{text}[{pattern}]"
        return res


def get_next_sequence_number(path: str, basename: str) -> int:
    """The number for the next file in ``path``: one more than the largest leading number there.

    With a ``basename`` (``grid``) only files named ``<basename>-<number>...`` count.
    The sequence starts at 0.
    """
    result = -1
    if basename != "":
        basename = f"{basename}-"
    prefix_length = len(basename)
    for name in os.listdir(path):
        if name.startswith(basename):
            parts = os.path.splitext(name[prefix_length:])[0].split("-")
            try:
                result = max(int(parts[0]), result)
            except ValueError:
                pass
    return result + 1
