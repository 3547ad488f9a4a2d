"""Small builders for the recurring kinds of setting, shared by the section modules."""
from __future__ import annotations

from typing import Any, Callable

from modules.core.options import live_choices
from modules.core.options.option_info import OptionInfo

WIKI_FILENAMES = "https://github.com/AUTOMATIC1111/stable-diffusion-webui/wiki/Custom-Images-Filename-Name-and-Subdirectory"


def slider(default: float, label: str, minimum: float, maximum: float, step: float, **kw: Any) -> OptionInfo:
    return OptionInfo(default, label, "Slider", {"minimum": minimum, "maximum": maximum, "step": step}, **kw)


def radio(default: Any, label: str, choices: list, **kw: Any) -> OptionInfo:
    return OptionInfo(default, label, "Radio", {"choices": choices}, **kw)


def color(default: str, label: str) -> OptionInfo:
    return OptionInfo(default, label, "ColorPicker", {})


def number(default: float, label: str, **kw: Any) -> OptionInfo:
    return OptionInfo(default, label, "Number", **kw)


def integer(default: int, label: str, **kw: Any) -> OptionInfo:
    return OptionInfo(default, label, "Number", {"precision": 0}, **kw)


def choices(provider: Callable[[], Any], **extra: Any) -> Callable[[], dict]:
    """Component arguments whose ``choices`` are asked from ``provider`` each time they are read."""
    return lambda: {"choices": list(provider() or []), **extra}


def multi(provider: Callable[[], Any]) -> Callable[[], dict]:
    """A1111's ``DropdownMulti``."""
    return choices(provider, multiselect=True)


def hide_dirs(**args: Any) -> Callable[[], dict]:
    """A1111's ``hide_dirs``: the component is hidden under ``--hide-ui-dir-config``."""
    return lambda: {**args, "visible": live_choices.dirs_visible()}
