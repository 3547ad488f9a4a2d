"""Small building blocks every tab uses: hooked component creation, tool and refresh buttons, tooltips.

Components the built-in UI creates go through :func:`make`, which calls the
extension hooks A1111 calls around every component (``Script.before_component`` /
``after_component`` of the tab's scripts, and the ``on_before_component`` /
``on_after_component`` callbacks), so extensions find the built-in controls by
``elem_id`` as they always did -- without patching gradio's classes.
"""
from __future__ import annotations

from typing import Any, Callable

from modules.core.services import current_services
from modules.scripting import callbacks
from modules.ui import form_components as forms
from modules.ui import symbols

tooltips: dict[str, str] = {}
"""``elem_id`` -> tooltip text; the page script sets them as ``title`` attributes (gradio has no tooltips)."""


def make(cls: type, **kwargs: Any) -> Any:
    """``cls(**kwargs)`` with A1111's component hooks around it; ``tooltip=`` becomes the element's title."""
    tooltip = kwargs.pop("tooltip", None)
    if tooltip and kwargs.get("elem_id"):
        tooltips[kwargs["elem_id"]] = tooltip
    component = cls.__new__(cls)
    runner = current_services().scripts_current
    if runner is not None:
        runner.before_component(component, **kwargs)
    callbacks.before_component_callback(component, **kwargs)
    component.__init__(**kwargs)
    callbacks.after_component_callback(component, **kwargs)
    if runner is not None:
        runner.after_component(component, **kwargs)
    return component


def tool_button(value: str, **kwargs: Any) -> Any:
    """A small one-symbol button (A1111's ``ToolButton``)."""
    return make(forms.ToolButton, value=value, **kwargs)


def refresh_button(components: Any, refresh: Callable[[], Any] | None, new_args: Callable[[], dict] | dict | None,
                   elem_id: str) -> Any:
    """A 🔄 button that calls ``refresh()`` then gives ``components`` the arguments ``new_args`` returns."""
    import gradio as gr

    targets = components if isinstance(components, list) else [components]
    label = next((getattr(c, "label", None) for c in targets if getattr(c, "label", None)), None)

    def on_click() -> Any:
        if refresh is not None:
            refresh()
        args = (new_args() if callable(new_args) else new_args) or {}
        for component in targets:
            for key, value in args.items():
                setattr(component, key, value)
        updates = [gr.update(**args) for _ in targets]
        return updates if len(updates) > 1 else updates[0]

    button = tool_button(symbols.refresh_symbol, elem_id=elem_id, tooltip=f"{label}: refresh" if label else "Refresh")
    button.click(fn=on_click, inputs=[], outputs=targets, show_progress="hidden")
    return button


def create_refresh_button(refresh_component: Any, refresh_method: Callable[[], Any] | None,
                          refreshed_args: Callable[[], dict] | dict | None, elem_id: str) -> Any:
    """A 🔄 button: ``refresh_method()``, then ``refreshed_args`` (a dict or a function giving one) applied to
    ``refresh_component`` (one component or a list) -- A1111's ``ui_common.create_refresh_button``."""
    return refresh_button(refresh_component, refresh_method, refreshed_args, elem_id)


def checkpoint_titles(use_short: bool = False) -> list[str]:
    """Titles of the checkpoints on disk (``name [hash]``), for dropdowns."""
    services = current_services()
    return list(services.checkpoints.titles(use_short)) if services.checkpoints is not None else []


def refresh_checkpoints() -> None:
    """List the checkpoint folders again."""
    services = current_services()
    if services.checkpoints is not None:
        services.checkpoints.refresh()


def upscaler_names() -> list[str]:
    """Names of the image upscalers (A1111's ``shared.sd_upscalers``), in their order."""
    return [x.name for x in current_services().sd_upscalers or []]


def opt(key: str, default: Any = None) -> Any:
    """A setting's value, or ``default`` before the settings exist."""
    services = current_services()
    return getattr(services.opts, key, default) if services.opts is not None else default


def plaintext_to_html(text: str, classname: str | None = None) -> str:
    """Escaped lines joined by ``<br>`` in a ``<p>`` (A1111's ``ui_common.plaintext_to_html``)."""
    import html

    content = "<br>\n".join(html.escape(x) for x in (text or "").split("\n"))
    return f"<p class='{classname}'>{content}</p>" if classname else f"<p>{content}</p>"


def error_html(message: str) -> str:
    """A message shown where the picture would have been when a job failed."""
    import html

    return f"<div class='error'>{html.escape(message)}</div>"
