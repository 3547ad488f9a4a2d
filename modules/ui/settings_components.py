"""One setting -> one gradio component (Settings tab and quicksettings row); values from the UI -> ``opts``.

The options catalogue names components by class name (``"Slider"``) with
``component_args`` as a dict or a function returning one; extensions may pass a
gradio class itself.  With no component the type of the default decides
(text box, number, checkbox), as A1111 does.
"""
from __future__ import annotations

from typing import Any

from modules.core.services import current_services
from modules.ui import form_components as forms
from modules.ui.components import make, refresh_button

CATEGORIES = [("saving", "Saving images"), ("sd", "Stable Diffusion"), ("ui", "User Interface"), ("system", "System"),
              ("postprocessing", "Postprocessing"), ("training", "Training")]
"""Settings categories in A1111's registration order (their pages come in this order)."""

CHOICE_COMPONENTS = ("Dropdown", "Radio", "DropdownMulti", "DropdownEditable", "CheckboxGroup")


def component_class(info: Any) -> Any:
    """The gradio class for ``info`` (an :class:`OptionInfo`)."""
    import gradio as gr

    name = info.component_name
    if info.component is not None and not isinstance(info.component, str):
        return info.component
    if name is None:
        default = info.default
        if isinstance(default, bool):
            return gr.Checkbox
        if isinstance(default, (int, float)):
            return gr.Number
        return gr.Textbox
    if name in forms.__all__:
        return getattr(forms, name)
    return getattr(gr, name)


def current_value(key: str) -> Any:
    """The setting's value as the page shows it (for the checkpoint: the one that is, or will be, loaded)."""
    opts = current_services().opts
    value = opts.data[key] if key in opts.data else opts.data_labels[key].default
    if key == "sd_model_checkpoint":
        value = _checkpoint_title(value)
    return value


def _checkpoint_title(value: Any) -> Any:
    """Before the first load the setting is empty: show the checkpoint start-up picks (A1111 shows its title)."""
    services = current_services()
    model = services.sd_model
    info = getattr(model, "sd_checkpoint_info", None)
    if info is not None:
        return info.title
    if services.checkpoints is None or not services.checkpoints.checkpoints_list:
        return value
    match = services.checkpoints.get_closest_match(value) if value else None
    if match is None:
        match = next(iter(services.checkpoints.checkpoints_list.values()))
    return match.title


def component_kwargs(key: str) -> dict[str, Any]:
    """Arguments for the component of ``key``: label, value, elem_id and the option's ``component_args``."""
    info = current_services().opts.data_labels[key]
    args = info.resolved_component_args()
    value = current_value(key)
    name = getattr(component_class(info), "__name__", "")
    if name in ("Dropdown", "DropdownMulti", "DropdownEditable"):
        # a stored value outside today's choices (a checkpoint that was removed...) must not block Apply
        args.setdefault("allow_custom_value", True)
    if name == "Radio" and value is not None and value not in _choice_values(args.get("choices")):
        args["choices"] = [*(args.get("choices") or []), value]
    if name == "HTML":
        return {"value": value, "elem_id": f"setting_{key}", **{k: v for k, v in args.items() if k != "label"}}
    return {"label": info.label, "value": value, "elem_id": f"setting_{key}", **args}


def _choice_values(choices: Any) -> list:
    return [c[1] if isinstance(c, (tuple, list)) else c for c in choices or []]


def create_setting_component(key: str, is_quicksettings: bool = False) -> Any:
    """The component of setting ``key`` (with a 🔄 button when the option can refresh its choices)."""
    info = current_services().opts.data_labels[key]
    cls = component_class(info)
    kwargs = component_kwargs(key)
    if info.refresh is None:
        return make(cls, **kwargs)

    def new_args() -> dict:
        args = info.resolved_component_args()
        return {k: v for k, v in args.items() if k in ("choices", "visible", "minimum", "maximum", "step")}

    if is_quicksettings:
        component = make(cls, **kwargs)
        component.webui_refresh_button = refresh_button(component, info.refresh, new_args, f"refresh_{key}")
        return component
    with forms.FormRow():
        component = make(cls, **kwargs)
        component.webui_refresh_button = refresh_button(component, info.refresh, new_args, f"refresh_{key}")
    return component


def ui_value_to_setting(key: str, value: Any) -> Any:
    """A value from the page in the type of the setting (gradio numbers arrive as floats)."""
    services = current_services()
    default = services.opts.data_labels[key].default if key in services.opts.data_labels else None
    if isinstance(default, bool) or default is None:
        return value
    if isinstance(default, int) and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, list) and isinstance(value, tuple):
        return list(value)
    return value


def ordered_settings() -> list[tuple[str, Any]]:
    """``(key, OptionInfo)`` in Settings-page order: by category (A1111's order), then section title.

    Like A1111's ``opts.reorder``, every option of a section takes the category of
    the section's first option.
    """
    items = list(current_services().opts.data_labels.items())
    section_category: dict[Any, Any] = {}
    for _key, info in items:
        section_category.setdefault(tuple(info.section or (None, None)), info.category_id)
    order = {cid: i for i, (cid, _label) in enumerate(CATEGORIES)}

    def sort_key(item: tuple[str, Any]) -> tuple[int, str]:
        section = tuple(item[1].section or (None, None))
        return order.get(section_category.get(section), len(order)), str(section[1] or "")

    return sorted(items, key=sort_key)


def section_categories() -> list[tuple[str, str]]:
    """``(section title, category label)`` of the first page of each category, for the headings of the page list."""
    labels = dict(CATEGORIES)
    seen: dict[str, str] = {}
    sections: dict[Any, Any] = {}
    for _key, info in ordered_settings():
        section = tuple(info.section or (None, None))
        if section[0] is None:
            continue
        sections.setdefault(section, info.category_id)
        category = labels.get(sections[section], "Uncategorized")
        seen.setdefault(category, section[1])
    return [(title, category) for category, title in seen.items()]
