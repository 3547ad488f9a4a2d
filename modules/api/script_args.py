"""``script_name`` / ``script_args`` / ``alwayson_scripts`` of a request -> the tab's script argument list.

Index 0 of the list is the selected script's dropdown index (0 = none), then every script's
arguments between its ``args_from`` and ``args_to``, starting from the UI defaults (A1111's API).
Unknown or misused script names are 422s naming them, as in A1111.
"""
from __future__ import annotations

import math
from typing import Any

from modules.api.errors import ApiError
from modules.core.services import current_services
from modules.scripting.reporting import wrap_call


def runner_for(tabname: str) -> Any:
    """The tab's :class:`modules.scripting.runner.ScriptRunner` (None before scripts are loaded)."""
    services = current_services()
    return services.scripts_img2img if tabname == "img2img" else services.scripts_txt2img


def _title(script: Any) -> str:
    return (wrap_call(script.title, script.filename, "title") or "").lower()


def selectable_script(name: str | None, runner: Any) -> tuple[Any, int | None]:
    """The selectable script titled ``name`` (case-insensitive) and its index; (None, None) for no name."""
    if not name:
        return None, None
    scripts = list(getattr(runner, "selectable_scripts", None) or [])
    titles = [_title(s) for s in scripts]
    try:
        index = titles.index(name.lower())
    except ValueError:
        raise ApiError(422, f"Script '{name}' not found", key="script_name") from None
    return scripts[index], index


def build_script_args(request: Any, runner: Any, selectable: Any, selectable_index: int | None,
                      infotext_args: dict[int, Any] | None = None) -> list:
    """The complete argument list for ``p.script_args``."""
    alwayson = request.alwayson_scripts or {}
    if runner is None or not getattr(runner, "scripts", None):
        for name in alwayson:
            raise ApiError(422, f"always on script {name} not found", key="alwayson_scripts")
        return [0]
    args = list(runner.default_script_args())
    for index, value in (infotext_args or {}).items():
        if 0 <= index < len(args):
            args[index] = value

    if selectable is not None:
        given = list(request.script_args or [])
        width = (selectable.args_to or 0) - (selectable.args_from or 0)
        for offset, value in enumerate(given[:width]):
            args[selectable.args_from + offset] = checked_value(selectable, offset, value, f"script_args[{offset}]",
                                                                "script_args")
        args[0] = selectable_index + 1

    for name, payload in alwayson.items():
        script = runner.script(name) if isinstance(name, str) else None
        if script is None:
            raise ApiError(422, f"always on script {name} not found", key="alwayson_scripts")
        if not script.alwayson:
            raise ApiError(422, "Cannot have a selectable script in the always on scripts params", key="alwayson_scripts")
        if not isinstance(payload, dict):
            raise ApiError(422, f"alwayson_scripts[{name!r}] must be an object like {{\"args\": [...]}}",
                           key="alwayson_scripts")
        if "args" not in payload:
            continue
        values = payload["args"]
        if not isinstance(values, list):
            raise ApiError(422, f"alwayson_scripts[{name!r}].args must be a list", key="alwayson_scripts")
        if script.args_from is None or script.args_to is None:
            continue
        for offset, value in enumerate(values[:script.args_to - script.args_from]):
            args[script.args_from + offset] = checked_value(script, offset, value,
                                                            f"alwayson_scripts[{name!r}].args[{offset}]",
                                                            "alwayson_scripts")
    return args


def _choice_values(control: Any) -> tuple[list, list]:
    """(labels, values) of a choice component (gradio keeps ``(label, value)`` pairs)."""
    labels, values = [], []
    for choice in getattr(control, "choices", None) or []:
        label, value = choice if isinstance(choice, (tuple, list)) and len(choice) == 2 else (choice, choice)
        labels.append(label)
        values.append(value)
    return labels, values


def _bad(where: str, key: str, message: str) -> ApiError:
    return ApiError(422, f"{where}: {message}", key=key)


def _number(control: Any, value: Any, where: str, key: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(where, key, f"expected a number for {_label(control)}, got {value!r}")
    low, high = getattr(control, "minimum", None), getattr(control, "maximum", None)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _bad(where, key, f"{_label(control)} must be between {low} and {high}, got {value}")
    whole = (getattr(control, "precision", None) == 0
             or all(isinstance(getattr(control, n, None), int) for n in ("minimum", "maximum", "step")))
    if whole and isinstance(value, float):
        if not value.is_integer():
            raise _bad(where, key, f"{_label(control)} must be a whole number, got {value}")
        value = int(value)
    return value


def _choice(control: Any, value: Any, where: str, key: str, strict: bool) -> Any:
    labels, values = _choice_values(control)
    if getattr(control, "type", "value") == "index":
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(labels):
            return value
        if isinstance(value, str) and value in labels:
            return labels.index(value)  # what the UI would pass
        raise _bad(where, key, f"{_label(control)} takes an index below {len(labels)} or one of {labels}, "
                               f"got {value!r}")
    if isinstance(value, (list, dict)):
        raise _bad(where, key, f"expected one value for {_label(control)}, got {type(value).__name__}")
    if strict and values and value not in values and value not in labels:
        raise _bad(where, key, f"{_label(control)} must be one of {values}, got {value!r}")
    return value


def _label(control: Any) -> str:
    return repr(getattr(control, "label", None) or type(control).__name__)


def checked_value(script: Any, offset: int, value: Any, where: str, key: str) -> Any:
    """``value`` for the script's ``offset``-th control, checked against what the control could give (422 naming
    ``where`` otherwise; A1111 passes anything on and fails with a 500 inside the script).

    ``None`` means the control's default.  Only gradio's plain input components are checked; a script's own
    components (and any value for them) are passed on as given.  Choices of dropdowns are not enforced: the
    API's copies of them are built once and miss choices the page refreshes later (models added since).
    """
    controls = getattr(script, "controls", None) or []
    if offset >= len(controls):
        return value
    control = controls[offset]
    if value is None:
        return getattr(control, "value", None)
    import gradio as gr  # not at module level: the API starts without gradio; the layout imported it by now

    if isinstance(control, gr.Checkbox):
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise _bad(where, key, f"expected true or false for {_label(control)}, got {value!r}")
    if isinstance(control, (gr.Slider, gr.Number)):
        return _number(control, value, where, key)
    if isinstance(control, gr.Textbox):
        if not isinstance(value, str):
            raise _bad(where, key, f"expected text for {_label(control)}, got {type(value).__name__}")
        return value
    if isinstance(control, gr.CheckboxGroup) or (isinstance(control, gr.Dropdown) and control.multiselect):
        if not isinstance(value, list) or any(isinstance(v, (list, dict)) for v in value):
            raise _bad(where, key, f"expected a list of values for {_label(control)}, got {type(value).__name__}")
        return value
    if isinstance(control, (gr.Radio, gr.Dropdown)):
        return _choice(control, value, where, key, strict=isinstance(control, gr.Radio))
    return value
