"""``script_name`` / ``script_args`` / ``alwayson_scripts`` of a request -> the tab's script argument list.

Index 0 of the list is the selected script's dropdown index (0 = none), then every script's
arguments between its ``args_from`` and ``args_to``, starting from the UI defaults (A1111's API).
Unknown or misused script names are 422s naming them, as in A1111.
"""
from __future__ import annotations

from typing import Any

from modules.api.errors import ApiError


def runner_for(tabname: str) -> Any:
    """The tab's :class:`modules.scripting.runner.ScriptRunner` (None before scripts are loaded)."""
    from modules import scripts

    return scripts.scripts_img2img if tabname == "img2img" else scripts.scripts_txt2img


def _title(script: Any) -> str:
    from modules.scripting.reporting import wrap_call

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
            args[selectable.args_from + offset] = value
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
            args[script.args_from + offset] = value
    return args
