"""The built-in "Extra options" script: chosen settings shown inside the txt2img/img2img tabs.

Settings ``extra_options_txt2img`` / ``extra_options_img2img`` name the settings
to show (one component each, built as the Settings tab builds it), in
``extra_options_cols`` columns, inside an "Options" accordion when
``extra_options_accordion`` is on.  The values a job is started with become its
``p.override_settings`` (a value the job already overrides wins), so they hold
for that job only and ``config.json`` never changes.  Settings that have an
infotext label (``Clip skip``, ``ENSD``...) are filled when infotext is pasted.
The options themselves live in the options catalogue ("Settings in UI").
"""
from __future__ import annotations

import math
from typing import Any

from modules import scripts, shared
from modules.scripting.reporting import report


class ExtraOptionsSection(scripts.Script):
    """Always-on script placing the chosen settings in its own ``extra_options`` block of the tab."""

    section = "extra_options"

    def __init__(self) -> None:
        self.comps: list = []
        self.setting_names: list[str] = []

    def title(self) -> str:
        return "Extra options"

    def show(self, is_img2img: bool) -> Any:
        return scripts.AlwaysVisible

    def ui(self, is_img2img: bool) -> list:
        """One component per chosen setting; returns them in the order of the setting's list."""
        import gradio as gr

        from modules.processing.infotext_overrides import infotext_setting_mapping
        from modules.ui.settings_components import create_setting_component
        from modules.ui_components import FormColumn

        self.comps = []
        self.setting_names = []
        self.infotext_fields = []
        opts = shared.opts
        extra_options = list((opts.extra_options_img2img if is_img2img else opts.extra_options_txt2img) or [])
        elem_id_tabname = "extra_options_" + ("img2img" if is_img2img else "txt2img")
        cols = max(1, int(opts.extra_options_cols or 1))
        # setting key -> its infotext label, for pasting
        labels = {key: label for label, key in infotext_setting_mapping(opts)}

        if opts.extra_options_accordion and extra_options:
            container = gr.Accordion("Options", open=False, elem_id=elem_id_tabname)
        else:
            container = gr.Group(elem_id=elem_id_tabname)
        with container:
            for row in range(math.ceil(len(extra_options) / cols)):
                with gr.Row():
                    for setting_name in extra_options[row * cols:(row + 1) * cols]:
                        if setting_name not in opts.data_labels:
                            report(f"Can't add extra options for {setting_name} in ui")
                            continue
                        with FormColumn():
                            comp = create_setting_component(setting_name)
                        self.comps.append(comp)
                        self.setting_names.append(setting_name)
                        label = labels.get(setting_name)
                        if label is not None:
                            self.infotext_fields.append((comp, label))

        self._refresh_on_page_load()
        return self.comps

    def _refresh_on_page_load(self) -> None:
        """A reloaded page shows the settings' current values (they may have changed since the UI was built)."""
        import gradio as gr
        from gradio.context import Context

        from modules.ui.settings_components import current_value

        root = Context.root_block
        if not self.comps or root is None:
            return
        names = list(self.setting_names)

        def values() -> list:
            return [gr.update(value=current_value(key)) for key in names]

        root.load(fn=values, inputs=[], outputs=list(self.comps), queue=False, show_progress="hidden")

    def before_process(self, p: Any, *args: Any) -> None:
        """The components' values become the job's setting overrides, unless the job already overrides them."""
        from modules.ui.settings_components import ui_value_to_setting

        if p.override_settings is None:
            p.override_settings = {}
        for name, value in zip(self.setting_names, args):
            if name not in p.override_settings:
                p.override_settings[name] = ui_value_to_setting(name, value)
