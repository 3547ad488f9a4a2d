"""Reading an infotext back into named fields (PNG Info tab, paste button, API ``infotext``).

:func:`parse_generation_parameters` is A1111 1.10's, defaults and
backwards-compatibility rules included, so pictures made by any A1111 version
paste the way A1111 pastes them.  Values come back as the strings they were
written as (``"Steps": "20"``); the defaults it adds for missing fields keep
A1111's types (``"Hires resize-1": 0``, ``"Refiner switch by sampling steps": False``).
"""
from __future__ import annotations

import logging
import math
import re
from typing import Any, Iterable, Protocol

from modules.processing.infotext import unquote
from modules.prompting.attention import parse_prompt_attention

log = logging.getLogger(__name__)

re_param_code = r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)'
re_param = re.compile(re_param_code)
"""One ``Key: value`` pair: a key starting with a word character, a JSON-quoted or comma-free value."""

re_imagesize = re.compile(r"^(\d+)x(\d+)$")
"""A ``WxH`` value, split into ``Key-1`` and ``Key-2``."""

NEGATIVE_PROMPT_PREFIX = "Negative prompt:"

_DEFAULTS: dict[str, Any] = {
    "infotext_styles": "Apply if any",
    "infotext_skip_pasting": [],
    "auto_backcompat": True,
    "use_old_hires_fix_width_height": False,
}

# Versions at which A1111 changed behaviour that old infotexts must keep
V160 = "1.6.0"
V170_TSNR = "v1.7.0-225"
V180 = "1.8.0"
V180_HR_STYLES = "1.8.0-139"


class StyleExtractor(Protocol):
    """What parsing needs of the prompt styles (A1111's ``shared.prompt_styles``)."""

    def extract_styles_from_prompt(self, prompt: str, negative_prompt: str) -> tuple[list[str], str, str]:
        """``(styles found, prompt without them, negative prompt without them)``."""


def _opt(settings: Any, key: str) -> Any:
    if settings is None:
        return _DEFAULTS[key]
    return getattr(settings, key, _DEFAULTS[key])


def prompt_uses_emphasis(*prompts: str) -> bool:
    """True when some text of ``prompts`` has an attention weight other than 1 (``BREAK`` aside)."""
    return any(weight != 1.0 and chunk != "BREAK"
               for prompt in prompts for chunk, weight in parse_prompt_attention(prompt))


def parse_version(text: str | None) -> Any:
    """A comparable version of an infotext ``Version`` (``v1.7.0-225-gabc`` reads as ``1.7.0.post225``).

    ``None`` when there is no version or it does not parse.
    """
    if text is None:
        return None
    match = re.match(r"([^-]+-[^-]+)-.*", text)
    if match:
        text = match.group(1)
    try:
        from packaging import version
    except ImportError:  # only version-dependent fix-ups are lost without it
        return None
    try:
        return version.parse(text)
    except version.InvalidVersion:
        return None


def _older_than(ver: Any, bound: str) -> bool:
    return ver < parse_version(bound)


def backcompat(d: dict[str, Any], settings: Any = None) -> None:
    """Turn on the compatibility options an infotext's ``Version`` calls for (setting ``auto_backcompat``)."""
    if not _opt(settings, "auto_backcompat"):
        return
    ver = parse_version(d.get("Version"))
    if ver is None:
        return
    if _older_than(ver, V160) and "[" in d.get("Prompt", ""):
        d["Old prompt editing timelines"] = True
    if _older_than(ver, V160) and d.get("Sampler", "") in ("DDIM", "PLMS"):
        d["Pad conds v0"] = True
    if _older_than(ver, V170_TSNR):
        d["Downcast alphas_cumprod"] = True
    if _older_than(ver, V180) and d.get("Refiner"):
        d["Refiner switch by sampling steps"] = True


def old_hires_fix_first_pass_dimensions(width: int, height: int) -> tuple[int, int]:
    """The first-pass size A1111 chose before 1.0's hires rework: about 512x512 pixels, in steps of 64."""
    scale = math.sqrt(512 * 512 / (width * height))
    return math.ceil(scale * width / 64) * 64, math.ceil(scale * height / 64) * 64


def restore_old_hires_fix_params(res: dict[str, Any], settings: Any = None) -> None:
    """Turn an old ``First pass size: WxH`` into ``Size`` + ``Hires resize`` (in place)."""
    firstpass_width = res.get("First pass size-1", None)
    firstpass_height = res.get("First pass size-2", None)

    if _opt(settings, "use_old_hires_fix_width_height"):
        hires_width = int(res.get("Hires resize-1", 0))
        hires_height = int(res.get("Hires resize-2", 0))
        if hires_width and hires_height:
            res["Size-1"] = hires_width
            res["Size-2"] = hires_height
            return

    if firstpass_width is None or firstpass_height is None:
        return

    firstpass_width, firstpass_height = int(firstpass_width), int(firstpass_height)
    width = int(res.get("Size-1", 512))
    height = int(res.get("Size-2", 512))
    if firstpass_width == 0 or firstpass_height == 0:
        firstpass_width, firstpass_height = old_hires_fix_first_pass_dimensions(width, height)

    res["Size-1"] = firstpass_width
    res["Size-2"] = firstpass_height
    res["Hires resize-1"] = width
    res["Hires resize-2"] = height


def split_infotext(text: str) -> tuple[str, str, str]:
    """``(prompt, negative prompt, parameters line)`` of an infotext.

    The last line counts as parameters only when it holds at least three
    ``Key: value`` pairs; lines from the one starting ``Negative prompt:`` on
    are the negative prompt.  Every line is stripped.
    """
    *lines, lastline = text.strip().split("\n")
    if len(re_param.findall(lastline)) < 3:
        lines.append(lastline)
        lastline = ""

    prompt = ""
    negative_prompt = ""
    done_with_prompt = False
    for line in lines:
        line = line.strip()
        if line.startswith(NEGATIVE_PROMPT_PREFIX):
            done_with_prompt = True
            line = line[len(NEGATIVE_PROMPT_PREFIX):].strip()
        if done_with_prompt:
            negative_prompt += ("" if negative_prompt == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line
    return prompt, negative_prompt, lastline


def parse_params_line(line: str) -> dict[str, Any]:
    """The ``Key: value`` pairs of a parameters line; ``WxH`` values become ``Key-1``/``Key-2``."""
    res: dict[str, Any] = {}
    for key, value in re_param.findall(line):
        if not value:
            # A1111 drops a key with an empty value (its parser fails on it and goes on)
            continue
        if value[0] == '"' and value[-1] == '"':
            value = unquote(value)
        match = re_imagesize.match(value)
        if match is not None:
            res[f"{key}-1"] = match.group(1)
            res[f"{key}-2"] = match.group(2)
        else:
            res[key] = value
    return res


def _apply_styles(res: dict[str, Any], prompt: str, negative_prompt: str, settings: Any,
                  styles: StyleExtractor | None) -> tuple[str, str]:
    mode = _opt(settings, "infotext_styles")
    if mode == "Ignore" or styles is None:
        return prompt, negative_prompt

    found, prompt_no_styles, negative_no_styles = styles.extract_styles_from_prompt(prompt, negative_prompt)

    same_hr_styles = True
    has_hr_prompts = "Hires prompt" in res or "Hires negative prompt" in res
    ver = parse_version(res.get("Version"))
    # hires prompts carried the styles too only from 1.8.0-139 on
    if has_hr_prompts and (ver is None or ver > parse_version(V180_HR_STYLES)):
        hr_prompt = res.get("Hires prompt", prompt)
        hr_negative = res.get("Hires negative prompt", negative_prompt)
        hr_found, hr_prompt_no_styles, hr_negative_no_styles = styles.extract_styles_from_prompt(hr_prompt, hr_negative)
        same_hr_styles = found == hr_found
        if same_hr_styles:
            res["Hires prompt"] = "" if hr_prompt_no_styles == prompt_no_styles else hr_prompt_no_styles
            res["Hires negative prompt"] = "" if hr_negative_no_styles == negative_no_styles else hr_negative_no_styles

    if same_hr_styles:
        prompt, negative_prompt = prompt_no_styles, negative_no_styles
        if (mode == "Apply if any" and found) or mode == "Apply":
            res["Styles array"] = found
    return prompt, negative_prompt


def _set_defaults(res: dict[str, Any], settings: Any) -> None:
    """The values A1111 assumes for fields older (or shorter) infotexts do not carry."""
    res.setdefault("Clip skip", "1")

    hypernet = res.get("Hypernet", None)
    if hypernet is not None:
        res["Prompt"] += f"""<hypernet:{hypernet}:{res.get("Hypernet strength", "1.0")}>"""

    if "Hires resize-1" not in res:
        res["Hires resize-1"] = 0
        res["Hires resize-2"] = 0

    res.setdefault("Hires sampler", "Use same sampler")
    res.setdefault("Hires schedule type", "Use same scheduler")
    res.setdefault("Hires checkpoint", "Use same checkpoint")
    res.setdefault("Hires prompt", "")
    res.setdefault("Hires negative prompt", "")
    res.setdefault("Mask mode", "Inpaint masked")
    res.setdefault("Masked content", "original")
    res.setdefault("Inpaint area", "Whole picture")
    res.setdefault("Masked area padding", 32)

    restore_old_hires_fix_params(res, settings)

    res.setdefault("RNG", "GPU")
    res.setdefault("Schedule type", "Automatic")
    res.setdefault("Schedule max sigma", 0)
    res.setdefault("Schedule min sigma", 0)
    res.setdefault("Schedule rho", 0)
    res.setdefault("VAE Encoder", "Full")
    res.setdefault("VAE Decoder", "Full")
    res.setdefault("FP8 weight", "Disable")
    if "Cache FP16 weight for LoRA" not in res and res["FP8 weight"] != "Disable":
        res["Cache FP16 weight for LoRA"] = False


def parse_generation_parameters(x: str, skip_fields: Iterable[str] | None = None, *, settings: Any = None,
                                styles: StyleExtractor | None = None) -> dict[str, Any]:
    """The fields of infotext ``x``: ``Prompt``, ``Negative prompt`` and every ``Key: value``.

    ``settings`` (the options object) gives ``infotext_styles``,
    ``infotext_skip_pasting`` (the default ``skip_fields``), ``auto_backcompat``
    and ``use_old_hires_fix_width_height``; ``styles`` finds the saved styles a
    prompt contains (no style extraction without it).
    """
    if skip_fields is None:
        skip_fields = _opt(settings, "infotext_skip_pasting") or []

    prompt, negative_prompt, lastline = split_infotext(x)
    res = parse_params_line(lastline)

    prompt, negative_prompt = _apply_styles(res, prompt, negative_prompt, settings, styles)
    res["Prompt"] = prompt
    res["Negative prompt"] = negative_prompt

    _set_defaults(res, settings)

    # emphasis modes came in 1.8; older pictures with weighted text were made with "Original"
    if "Emphasis" not in res and prompt_uses_emphasis(prompt, negative_prompt):
        res["Emphasis"] = "Original"

    res.setdefault("Refiner switch by sampling steps", False)

    backcompat(res, settings)

    for key in skip_fields:
        res.pop(key, None)
    return res
