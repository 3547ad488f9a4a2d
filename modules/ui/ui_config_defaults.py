"""``ui-config.json``: saved defaults and limits of the UI's components (SPEC 13.8), and the Settings "Defaults" page.

Keys are ``<tab>/<label>/<field>`` (``txt2img/Sampling steps/value``); script
components get ``customscript/<file>.py/`` in front; tab groups are
``<tab>/Tabs@<elem_id>/selected``.  A saved value replaces the component's
default before the page is sent (a dropdown value that is no longer a choice is
ignored); a missing key is added with the component's own default, and the file is
written after the UI is built when something was added.
"""
from __future__ import annotations

import html
from typing import Any, Callable

from modules.core.options.store import atomic_write_json
from modules.ui import form_components as forms

_current: "UiDefaults | None" = None


def current() -> "UiDefaults | None":
    """The tracker of the UI being built (None outside :func:`modules.ui.frame.create_ui`)."""
    return _current


def _choice_values(component: Any) -> list:
    return [c[1] if isinstance(c, (tuple, list)) else c for c in getattr(component, "choices", None) or []]


class UiDefaults:
    """Applies and records the defaults of every tracked component (A1111's ``UiLoadsave``)."""

    def __init__(self, config: Any) -> None:
        self.config = config
        """A :class:`modules.core.ui_config.UiConfig` (``shared.ui_config``)."""
        self.data: dict[str, Any] = config.data if config is not None else {}
        self.original = dict(self.data)
        self.component_mapping: dict[str, Any] = {}
        """Key of a ``value`` field -> its component (the Defaults page compares their current values)."""
        self.view_button = self.apply_button = self.review = None

    # --- applying ---
    def apply_field(self, obj: Any, path: str, field: str, condition: Callable[[Any], bool] | None = None,
                    source: Any = None) -> None:
        import gradio as gr

        owner = source if source is not None else obj
        key = f"{path}/{field}"
        script = getattr(owner, "custom_script_source", None)
        if script:
            key = f"customscript/{script}/{key}"
        if getattr(owner, "do_not_save_to_config", False):
            return
        attribute = "open" if isinstance(obj, gr.Accordion) and field == "value" else field
        if key not in self.data:
            self.data[key] = getattr(obj, attribute, None)
            if self.config is not None:
                self.config.dirty = True
        else:
            saved = self.data[key]
            if condition is not None and not condition(saved):
                return
            if isinstance(obj, gr.Textbox) and field == "value":
                saved = str(saved) if saved is not None else ""
            elif isinstance(obj, gr.Number) and field == "value":
                try:
                    saved = float(saved)
                except (TypeError, ValueError):
                    return
            setattr(obj, attribute, saved)
            init_field = getattr(obj, "init_field", None)
            if field == "value" and callable(init_field):
                init_field(saved)
        if field == "value" and key not in self.component_mapping:
            self.component_mapping[key] = obj

    def add_component(self, path: str, x: Any) -> None:
        """Apply and record the fields of one component reachable as ``path``."""
        import gradio as gr

        kind = type(x)
        if kind in (gr.Slider, gr.Radio, gr.Checkbox, gr.Textbox, gr.Number, gr.Dropdown, forms.ToolButton, gr.Button) \
                and x.visible is True:
            self.apply_field(x, path, "visible")
        if kind is gr.Slider:
            for name in ("value", "minimum", "maximum", "step"):
                self.apply_field(x, path, name)
        elif kind is gr.Radio:
            self.apply_field(x, path, "value", lambda v: v in _choice_values(x))
        elif kind in (gr.Checkbox, gr.Textbox, gr.Number):
            self.apply_field(x, path, "value")
        elif kind is gr.Dropdown:
            def valid(v: Any) -> bool:
                choices = _choice_values(x)
                if getattr(x, "multiselect", False):
                    return isinstance(v, list) and all(item in choices for item in v)
                return v in choices or bool(getattr(x, "allow_custom_value", False))
            self.apply_field(x, path, "value", valid)
        elif kind is forms.InputAccordion:
            self.apply_field(x, path, "value")
            if x.accordion.visible is True:
                self.apply_field(x.accordion, path, "visible", source=x)
            x.accordion.open = bool(x.value)
        elif kind is gr.Tabs:
            ids = [getattr(child, "id", None) for child in getattr(x, "children", [])]
            self.apply_field(x, path, "selected", lambda v: v in ids)

    def add_block(self, x: Any, path: str = "") -> None:
        """Walk ``x`` and its children, tracking every labelled component under ``path``."""
        import gradio as gr

        if hasattr(x, "children"):
            if isinstance(x, gr.Tabs) and x.elem_id is not None:
                self.add_component(f"{path}/Tabs@{x.elem_id}", x)
            for child in x.children:
                self.add_block(child, path)
        elif getattr(x, "label", None) is not None:
            self.add_component(f"{path}/{x.label}", x)
        elif isinstance(x, gr.Button) and x.value is not None:
            self.add_component(f"{path}/{x.value}", x)

    def save_if_changed(self) -> None:
        if self.config is not None:
            self.config.save()

    # --- the Defaults page ---
    def iter_changes(self, values: list) -> list[tuple[str, Any, Any]]:
        """``(key, saved, current)`` for each tracked value the user changed in the page."""
        changes = []
        for (key, _component), value in zip(self.component_mapping.items(), values):
            old = self.data.get(key)
            if isinstance(value, tuple):
                value = list(value)
            if value != old:
                changes.append((key, old, value))
        return changes

    def view_changes(self, *values: Any) -> str:
        changes = self.iter_changes(list(values))
        if not changes:
            return "No changes"
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(old))}</td>"
                       f"<td>{html.escape(str(new))}</td></tr>" for k, old, new in changes)
        return ("<table><thead><tr><th>Path</th><th>Old value</th><th>New value</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")

    def apply_changes(self, *values: Any) -> str:
        changes = self.iter_changes(list(values))
        for key, _old, new in changes:
            self.data[key] = new
        if changes and self.config is not None:
            atomic_write_json(self.config.filename, self.data)
            self.config.dirty = False
        return f"Wrote {len(changes)} changes."

    def setup_page(self) -> None:
        """Wire the Defaults page's buttons (every tracked component exists by now)."""
        if self.view_button is None:
            return
        inputs = list(self.component_mapping.values())
        self.view_button.click(fn=self.view_changes, inputs=inputs, outputs=[self.review], show_progress="hidden")
        self.apply_button.click(fn=self.apply_changes, inputs=inputs, outputs=[self.review], show_progress="hidden")


def begin(config: Any) -> UiDefaults:
    """Start tracking for a new page."""
    global _current
    _current = UiDefaults(config)
    return _current


def end() -> None:
    global _current
    _current = None


def create_defaults_page() -> None:
    """The Settings "Defaults" page: review and save the values currently set in the page as new defaults."""
    import gradio as gr

    tracker = current()
    gr.HTML("<p>This page allows you to change default values in UI elements on other tabs.<br />Make your changes, "
            "press 'View changes' to review the changed default values,<br />then press 'Apply' to write them to "
            "ui-config.json.</p><p>New defaults will apply after you restart the UI.</p>")
    with gr.Row():
        view = gr.Button(value="View changes", elem_id="ui_defaults_view", variant="secondary")
        apply = gr.Button(value="Apply", elem_id="ui_defaults_apply", variant="primary")
    review = gr.HTML("", elem_id="ui_defaults_review")
    if tracker is not None:
        tracker.view_button, tracker.apply_button, tracker.review = view, apply, review
