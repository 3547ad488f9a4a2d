"""The quicksettings row at the top of the page (setting ``quicksettings_list``; the checkpoint by default).

A change is stored at once with ``opts.set`` and saved; the option's
``onchange`` does the rest (``sd_model_checkpoint`` loads the chosen checkpoint).
"""
from __future__ import annotations

from typing import Any

from modules.core.options.store import OptionFrozenError, OptionValueError
from modules.core.services import current_services
from modules.ui.settings_components import create_setting_component, ui_value_to_setting


def quicksettings_keys() -> list[str]:
    """The keys of ``quicksettings_list`` that are real settings, in their order (frozen settings: none)."""
    services = current_services()
    if getattr(services.cmd_opts, "freeze_settings", False):
        return []
    keys = [k for k in (services.opts.quicksettings_list or []) if k != "quicksettings"]
    return [k for k in dict.fromkeys(keys) if k in services.opts.data_labels]


def apply_setting(key: str, value: Any) -> tuple[Any, str]:
    """Store one quicksetting; returns (component update, settings JSON)."""
    import gradio as gr

    services = current_services()
    opts = services.opts
    value = ui_value_to_setting(key, value)
    if key == "sd_model_checkpoint":
        if not value:
            return gr.update(), opts.dumpjson()
        info = services.checkpoints.get_closest_match(value) if services.checkpoints is not None else None
        if info is None:
            gr.Warning(f"Checkpoint not found: {value}")
            return gr.update(value=opts.sd_model_checkpoint), opts.dumpjson()
        value = info.title
    try:
        changed = opts.set(key, value)
    except (OptionValueError, OptionFrozenError) as e:
        gr.Warning(str(e))
        return gr.update(value=getattr(opts, key)), opts.dumpjson()
    except Exception as e:  # the onchange failed (the checkpoint does not load): keep the old value, say why
        gr.Warning(f"Could not apply {key}: {e}")
        return gr.update(value=getattr(opts, key)), opts.dumpjson()
    if changed:
        opts.save()
    return gr.update(value=getattr(opts, key)), opts.dumpjson()


def create_quicksettings(component_dict: dict[str, Any]) -> list[tuple[str, Any]]:
    """Build the row (elem_id ``quicksettings``); returns ``(key, component)`` pairs."""
    import gradio as gr

    created = []
    with gr.Row(elem_id="quicksettings", variant="compact"):
        for key in quicksettings_keys():
            component = create_setting_component(key, is_quicksettings=True)
            component_dict[key] = component
            created.append((key, component))
    return created


def connect_quicksettings(created: list[tuple[str, Any]], text_settings: Any, after: Any = None) -> None:
    """Save each quicksetting when it changes (text: on submit/blur; sliders: on release); then ``after``."""
    import gradio as gr

    for key, component in created:
        if isinstance(component, gr.Textbox):
            events = [component.submit, component.blur]
        elif hasattr(component, "release"):
            events = [component.release]
        else:
            events = [component.input]
        for event in events:
            dependency = event(fn=lambda value, key=key: apply_setting(key, value), inputs=[component],
                               outputs=[component, text_settings], show_progress="minimal")
            if after is not None:
                dependency.then(**after)
