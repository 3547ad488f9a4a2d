"""Pasting generation parameters into a tab: the ↙️ button, PNG Info's "Send to" buttons, the gallery's send buttons.

A1111's ``infotext_utils`` paste half, with its names (``PasteField``,
``ParamBinding``, ``paste_fields``, ``register_paste_params_button``,
``connect_paste_params_buttons``...), so extensions that register their own
fields keep working.  Importing this module does not import gradio.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

from modules.core.errors import report
from modules.core.services import current_services
from modules.processing.infotext import quote  # noqa: F401  (was importable from here)
from modules.scripting import callbacks
from modules.ui.components import opt
from modules.ui.gallery_files import item_image, selected_item
from modules.ui.infotext import get_override_settings, parse_generation_parameters


class PasteField(tuple):
    """``(component, target)``: ``target`` is an infotext label or a function of the parsed parameters."""

    def __new__(cls, component: Any, target: str | Callable[[dict], Any], *, api: str | None = None) -> "PasteField":
        res = super().__new__(cls, (component, target))
        res.component = component
        res.target = target
        res.api = api
        return res


@dataclass
class ParamBinding:
    """One button that fills tab ``tabname`` from a text box (infotext) and/or a picture component."""

    paste_button: Any
    tabname: str
    source_text_component: Any = None
    source_image_component: Any = None
    source_tabname: str | None = None
    override_settings_component: Any = None
    paste_field_names: list[str] = field(default_factory=list)
    source_index_component: Any = None
    """The selected-picture index of a source gallery (first picture when absent)."""
    switch_tab: bool = True
    """Show the destination tab after the click (not for a tab's own paste button)."""


paste_fields: dict[str, dict[str, Any]] = {}
"""Tab name -> ``{"init_img", "fields", "override_settings_component", "paste_field_names"}``."""

registered_param_bindings: list[ParamBinding] = []

def reset() -> None:
    """Forget every registered field and button (the UI is being built again)."""
    paste_fields.clear()
    registered_param_bindings.clear()


def paste_field_names() -> list[str]:
    """The infotext names the registered paste fields fill (setting ``infotext_skip_pasting`` offers them)."""
    return [name for tab_data in paste_fields.values() for _component, name in tab_data.get("fields") or []
            if isinstance(name, str)]


def add_paste_fields(tabname: str, init_img: Any, fields: list | None, override_settings_component: Any = None) -> None:
    """Declare what pasting into ``tabname`` fills: ``fields`` are ``(component, label or function)`` pairs."""
    converted = [f if isinstance(f, PasteField) else PasteField(*f) for f in fields or []]
    paste_fields[tabname] = {"init_img": init_img, "fields": converted,
                             "override_settings_component": override_settings_component}


def register_paste_params_button(binding: ParamBinding) -> None:
    registered_param_bindings.append(binding)


def create_buttons(tabs_list: list[str]) -> dict[str, Any]:
    """"Send to <tab>" buttons (PNG Info)."""
    import gradio as gr

    buttons = {}
    for tab in tabs_list:
        buttons[tab] = gr.Button(f"Send to {tab}", elem_id=f"{tab}_tab")
    return buttons


def image_from_url_text(filedata: Any) -> Any:
    """A picture from what a gallery or image component hands over (path, ``(path, caption)``, dict, data URL)."""
    import base64
    import io

    from PIL import Image

    if filedata is None:
        return None
    if isinstance(filedata, list):
        filedata = filedata[0] if filedata else None
    if isinstance(filedata, str) and filedata.startswith("data:image/"):
        return Image.open(io.BytesIO(base64.b64decode(filedata.split(",", 1)[1])))
    return item_image(filedata)


def read_params_txt() -> str:
    """The last job's infotext (``params.txt`` in the data dir), or "" when it is missing or not allowed."""
    services = current_services()
    cmd_opts = services.cmd_opts
    if getattr(cmd_opts, "hide_ui_dir_config", False) or getattr(cmd_opts, "no_prompt_history", False):
        return ""
    data_dir = getattr(services.paths, "data_dir", None) if services.paths is not None else None
    filename = os.path.join(data_dir, "params.txt") if data_dir else None
    if not filename or not os.path.isfile(filename):
        return ""
    with open(filename, "r", encoding="utf8") as f:
        return f.read()


def parse_for_paste(text: str) -> dict[str, Any]:
    """Parse infotext as the paste button does (``params.txt`` when empty), with the ``infotext_pasted`` hooks."""
    if not text:
        text = read_params_txt()
    params = parse_generation_parameters(text)
    callbacks.infotext_pasted_callback(text, params)
    return params


def value_for(component: Any, target: Any, params: dict[str, Any]) -> Any:
    """The update for one paste field: ``gr.update()`` when the infotext has nothing for it."""
    import gradio as gr

    if callable(target):
        try:
            value = target(params)
        except Exception:
            report(f"Error executing {target}", exc_info=True)
            value = None
    else:
        value = params.get(target, None)
    if value is None:
        return gr.update()
    if isinstance(value, dict) and value.get("__type__") == "update":
        return value
    current = getattr(component, "value", None)
    try:
        if isinstance(current, bool):
            value = value if isinstance(value, bool) else str(value).lower() not in ("false", "0", "")
        elif isinstance(current, (int, float)) and not isinstance(value, (int, float)):
            value = float(value)
        elif isinstance(current, str) and not isinstance(value, str):
            value = str(value)
    except (TypeError, ValueError):
        return gr.update()
    return gr.update(value=value)


def override_settings_update(params: dict[str, Any], skip_fields: Any = None) -> Any:
    """The "Override settings" dropdown for settings the infotext sets differently from now (fields in
    ``skip_fields`` are left out: a paste field of the tab already shows them)."""
    import gradio as gr

    pairs = [f"{label}: {value}" for label, _key, value in get_override_settings(params, skip_fields=skip_fields)]
    return gr.update(value=pairs, choices=pairs, visible=bool(pairs))


def connect_paste(button: Any, fields: list, input_comp: Any, override_settings_component: Any, tabname: str) -> None:
    """``button`` parses ``input_comp``'s text (or ``params.txt``) into ``fields`` (and the override dropdown)."""
    outputs = [f[0] for f in fields] + ([override_settings_component] if override_settings_component else [])
    handled = {target for _component, target in fields if isinstance(target, str)}

    def paste(text: str) -> list:
        params = parse_for_paste(text or "")
        updates = [value_for(component, target, params) for component, target in fields]
        if override_settings_component is not None:
            updates.append(override_settings_update(params, handled))
        return updates

    button.click(fn=paste, inputs=[input_comp], outputs=outputs, show_progress="hidden")


def _size_components(fields: list) -> tuple[Any, Any]:
    width = next((f[0] for f in fields if f[1] == "Size-1"), None)
    height = next((f[0] for f in fields if f[1] == "Size-2"), None)
    return width, height


def connect_paste_params_buttons() -> None:
    """Wire every registered button (call once every tab is built)."""
    import gradio as gr

    for binding in registered_param_bindings:
        destination = paste_fields.get(binding.tabname)
        if destination is None:
            continue
        fields = destination["fields"] or []
        image_target = destination["init_img"]
        width, height = _size_components(fields) if binding.tabname != "inpaint" else (None, None)

        if binding.source_image_component is not None and image_target is not None:
            send_size = bool(opt("send_size", True)) and width is not None and height is not None
            outputs = [image_target] + ([width, height] if send_size else [])
            inputs = [binding.source_image_component]
            if binding.source_index_component is not None:
                inputs.append(binding.source_index_component)

            def send_image(source: Any, index: Any = 0, send_size: bool = send_size) -> list:
                item = selected_item(source, index) if isinstance(source, list) else source
                image = image_from_url_text(item)
                result: list = [image]
                if send_size:
                    result += [image.width, image.height] if image is not None else [gr.update(), gr.update()]
                return result

            binding.paste_button.click(fn=send_image, inputs=inputs, outputs=outputs, show_progress="hidden")

        if binding.source_text_component is not None and fields:
            connect_paste(binding.paste_button, fields, binding.source_text_component,
                          destination.get("override_settings_component"), binding.tabname)

        if binding.source_tabname is not None and fields:
            names = ["Prompt", "Negative prompt", "Steps", "Face restoration"]
            names += ["Seed"] if opt("send_seed", True) else []
            names += list(binding.paste_field_names or [])
            source_fields = paste_fields.get(binding.source_tabname, {}).get("fields") or []
            pairs = [(src[0], dst[0]) for dst in fields for src in source_fields if dst[1] in names and src[1] == dst[1]]
            if pairs:
                binding.paste_button.click(fn=lambda *x: x if len(x) > 1 else x[0], inputs=[a for a, _ in pairs],
                                           outputs=[b for _, b in pairs], show_progress="hidden")

        if binding.switch_tab:
            # the page switches tabs as a person would (clicking the tab, then img2img's mode tab)
            binding.paste_button.click(fn=None, js=f"() => webuiSwitchTo('{binding.tabname}')")
