"""One setting's declaration: default, label, UI component and section.

Extensions create these exactly as in A1111::

    shared.opts.add_option("my_key", shared.OptionInfo(1.0, "My label", gr.Slider,
                           {"minimum": 0, "maximum": 2}, section=("my_ext", "My extension")))

``component`` may be a gradio component class, its name as a string
(``"Slider"``), or ``None`` (the UI picks one from the default's type), so the
catalogue can be declared without importing gradio.
"""
from __future__ import annotations

from typing import Any, Callable


NOT_IN_THIS_BUILD = "(does not apply to this build)"
"""The end of the label of a setting A1111 has that changes nothing here (kept so config.json and the API match)."""


class OptionInfo:
    """A setting: its default value and how the Settings tab shows it."""

    def __init__(
        self,
        default: Any = None,
        label: str = "",
        component: Any = None,
        component_args: dict | Callable[[], dict] | None = None,
        onchange: Callable[[], None] | None = None,
        section: tuple[str, str] | None = None,
        refresh: Callable[[], None] | None = None,
        comment_before: str = "",
        comment_after: str = "",
        infotext: str | None = None,
        restrict_api: bool = False,
        category_id: str | None = None,
    ) -> None:
        self.default = default
        self.label = label
        self.component = component
        self.component_args = component_args
        self.onchange = onchange
        self.section = section
        self.category_id = category_id
        self.refresh = refresh
        self.do_not_save = False
        self.comment_before = comment_before
        """HTML shown before the component's label in the Settings tab."""
        self.comment_after = comment_after
        """HTML shown after the component's label in the Settings tab."""
        self.infotext = infotext
        """The infotext label this setting is written under, when it is one."""
        self.restrict_api = restrict_api
        """When true, the options API cannot change this setting (it is silently skipped, as A1111)."""
        self.choices_are_closed = False

    def link(self, label: str, url: str) -> "OptionInfo":
        self.comment_before += f"[<a href='{url}' target='_blank'>{label}</a>]"
        return self

    def js(self, label: str, js_func: str) -> "OptionInfo":
        self.comment_before += f"[<a onclick='{js_func}(); return false'>{label}</a>]"
        return self

    def info(self, info: str) -> "OptionInfo":
        self.comment_after += f"<span class='info'>({info})</span>"
        return self

    def html(self, html: str) -> "OptionInfo":
        self.comment_after += html
        return self

    def not_in_this_build(self, why: str) -> "OptionInfo":
        """Mark a setting that changes nothing in this build: its label ends with :data:`NOT_IN_THIS_BUILD`,
        ``why`` is shown under it."""
        self.label = f"{self.label} {NOT_IN_THIS_BUILD}"
        return self.info(why)

    def needs_restart(self) -> "OptionInfo":
        self.comment_after += " <span class='info'>(requires restart)</span>"
        return self

    def needs_reload_ui(self) -> "OptionInfo":
        self.comment_after += " <span class='info'>(requires Reload UI)</span>"
        return self

    @property
    def component_name(self) -> str | None:
        """The component's class name (``"Slider"``), whatever form ``component`` was given in."""
        if self.component is None:
            return None
        if isinstance(self.component, str):
            return self.component
        return getattr(self.component, "__name__", None)

    def resolved_component_args(self) -> dict:
        """``component_args`` evaluated (it may be a function returning the arguments)."""
        args = self.component_args() if callable(self.component_args) else self.component_args
        return dict(args or {})


class OptionHTML(OptionInfo):
    """A block of explanatory HTML in the Settings tab; its text is also its value."""

    def __init__(self, text: str) -> None:
        super().__init__(str(text).strip(), label="", component="HTML")
        self.do_not_save = True


def options_section(section_identifier: tuple, options_dict: dict[str, OptionInfo]) -> dict[str, OptionInfo]:
    """Set the section (and category, when a 3-tuple is given) of every option in ``options_dict``."""
    for value in options_dict.values():
        if len(section_identifier) == 2:
            value.section = section_identifier
        elif len(section_identifier) == 3:
            value.section = section_identifier[0:2]
            value.category_id = section_identifier[2]
    return options_dict
