"""Building the scripts' UI of one tab and numbering their arguments (the UI-facing half of ``ScriptRunner``).

Gradio is imported inside the methods only: the API start path never builds
script UIs.  Each script's ``ui()`` runs inside the caller's gradio context (the
tab being built); its components are appended to ``runner.inputs`` and their
positions become the script's ``args_from``/``args_to``.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from modules.scripting.reporting import report, wrap_call
from modules.scripting.script_base import ScriptBuiltinUI


@dataclass
class ScriptArgInfo:
    """One argument of a script as ``/sdapi/v1/script-info`` lists it."""

    label: str = ""
    value: Any = None
    minimum: Any = None
    maximum: Any = None
    step: Any = None
    choices: list | None = None


@dataclass
class ScriptApiInfo:
    """A script as ``/sdapi/v1/script-info`` lists it (``Script.api_info``)."""

    name: str
    is_img2img: bool
    is_alwayson: bool
    args: list[ScriptArgInfo] = field(default_factory=list)


def _arg_info(control: Any) -> ScriptArgInfo:
    info = ScriptArgInfo(label=getattr(control, "label", None) or "")
    for name in ("value", "minimum", "maximum", "step"):
        value = getattr(control, name, None)
        if value is not None and not callable(value):
            setattr(info, name, value)
    choices = getattr(control, "choices", None)
    if choices is not None:
        # gradio lists choices as (label, value) pairs; the API shows the labels
        info.choices = [c[0] if isinstance(c, (tuple, list)) else c for c in choices]
    return info


ARGS_LAYOUT_LOCK = threading.Lock()
"""Held while a runner builds its argument layout outside the page (see :meth:`RunnerUi.ensure_args_layout`)."""


class RunnerUi:
    """UI building for :class:`modules.scripting.runner.ScriptRunner` (mixed into it)."""

    scripts: list
    selectable_scripts: list
    alwayson_scripts: list
    titles: list
    inputs: list
    ui_built: set
    infotext_fields: list
    paste_field_names: list

    def prepare_ui(self) -> None:
        """Start numbering arguments afresh (index 0 is reserved for the Script dropdown)."""
        self.inputs = [None]
        self.ui_built = set()

    def create_script_ui(self, script: Any) -> None:
        """Build one script's UI in the current gradio context and record its argument range."""
        built = getattr(self, "ui_built", None)
        if built is not None:
            built.add(id(script))
        script.args_from = len(self.inputs)
        script.args_to = len(self.inputs)
        try:
            self.create_script_ui_inner(script)
        except Exception:
            report(f"Error creating UI for {script.name}: ", exc_info=True)

    def create_script_ui_inner(self, script: Any) -> None:
        controls = wrap_call(script.ui, script.filename, "ui", script.is_img2img)
        if controls is None:
            script.controls = None
            return
        controls = list(controls)
        script.controls = controls
        script.name = (wrap_call(script.title, script.filename, "title", default=script.filename) or "").lower()
        for control in controls:
            control.custom_script_source = os.path.basename(script.filename or "")
        script.api_info = ScriptApiInfo(name=script.name, is_img2img=script.is_img2img, is_alwayson=script.alwayson,
                                        args=[_arg_info(c) for c in controls])
        if script.infotext_fields is not None:
            self.infotext_fields += script.infotext_fields
        if script.paste_field_names is not None:
            self.paste_field_names += script.paste_field_names
        self.inputs += controls
        script.args_to = len(self.inputs)

    def setup_ui_for_section(self, section: str | None, scriptlist: list | None = None) -> None:
        """Build the UI of the always-on scripts placed in ``section`` (or of every script in ``scriptlist``)."""
        import gradio as gr

        built = getattr(self, "ui_built", set())
        for script in self.alwayson_scripts if scriptlist is None else scriptlist:
            if script.alwayson and script.section != section or id(script) in built:
                continue
            if script.create_group:
                with gr.Group(visible=script.alwayson) as group:
                    self.create_script_ui(script)
                script.group = group
            else:
                self.create_script_ui(script)

    def builtin_ui(self, title: str) -> Any:
        """Draw the built-in script ``title`` (Sampler, Seed, Refiner) here and return the controls it keeps in
        ``builtin_controls``; None when no such script is loaded (the tab then draws the controls itself)."""
        for script in self.alwayson_scripts:
            if isinstance(script, ScriptBuiltinUI) and (script.title() or "").lower() == title.lower():
                self.setup_ui_for_section(script.section, [script])
                return getattr(script, "builtin_controls", None)
        return None

    def setup_ui(self) -> list:
        """Build the scripts area: always-on scripts without a section, the Script dropdown, the selectable scripts.

        Returns :attr:`inputs` (dropdown first).  The built-in sections (``seed``,
        ``sampler``...) are placed by the tab's layout through
        :meth:`setup_ui_for_section` before this is called.
        """
        import gradio as gr

        self.setup_ui_for_section(None)
        dropdown = gr.Dropdown(label="Script", elem_id="script_list", choices=["None", *self.titles], value="None",
                               type="index")
        self.inputs[0] = dropdown
        self.setup_ui_for_section(None, self.selectable_scripts)

        def select_script(script_index: int | None) -> list:
            selected = self.selectable_scripts[script_index - 1] if script_index else None
            return [gr.update(visible=selected is s) for s in self.selectable_scripts]

        def init_field(title: str) -> None:
            # a saved ui-config default selected a script: show its UI from the start
            if title != "None" and title in self.titles:
                self.selectable_scripts[self.titles.index(title)].group.visible = True

        dropdown.init_field = init_field
        dropdown.change(fn=select_script, inputs=[dropdown], outputs=[s.group for s in self.selectable_scripts])

        load_counter = {"n": 0}

        def onload_script_visibility(params: dict) -> Any:
            # infotext paste: called once per selectable script, in order; only the named one is shown
            title = params.get("Script", None)
            if title:
                if title in self.titles:
                    visible = self.titles.index(title) == load_counter["n"]
                    load_counter["n"] = (load_counter["n"] + 1) % len(self.titles)
                    return gr.update(visible=visible)
                params["Script"] = None
                message = f'Cannot find Script: "{title}"'
                print(message)
                gr.Warning(message)
            return gr.update(visible=False)

        self.infotext_fields.append((dropdown, lambda x: gr.update(value=x.get("Script", "None"))))
        self.infotext_fields.extend((s.group, onload_script_visibility) for s in self.selectable_scripts)
        apply = getattr(self, "apply_on_before_component_callbacks", None)
        if apply is not None:
            apply()
        return self.inputs

    def ensure_args_layout(self) -> None:
        """Number the scripts' arguments without a visible UI (API-only start), building them in a throwaway Blocks.

        Under :data:`ARGS_LAYOUT_LOCK`: gradio's current-Blocks context is process-wide, so two layouts built at
        once (cold concurrent API requests) break each other, and a half-built layout must never be read.
        """
        with ARGS_LAYOUT_LOCK:
            if all(s.args_from is not None for s in self.scripts):
                return
            import gradio as gr

            self.prepare_ui()
            with gr.Blocks(analytics_enabled=False):
                for section in dict.fromkeys(s.section for s in self.alwayson_scripts if s.section is not None):
                    self.setup_ui_for_section(section)
                self.setup_ui()

    def default_script_args(self) -> list:
        """Every script argument at its component's default value; index 0 = 0 (no script selected)."""
        self.ensure_args_layout()
        args: list = [None] * max([1, *(s.args_to or 0 for s in self.scripts)])
        args[0] = 0
        for script in self.scripts:
            for offset, control in enumerate(script.controls or []):
                args[script.args_from + offset] = getattr(control, "value", None)
        return args
