"""The registry behind ``modules.script_callbacks``: who registered what, in which order callbacks run.

Each registered callback remembers the file that registered it and gets a name
``<extension>/<file>/<category>[/<name>]`` (``base`` for files outside any
extension).  The order within a category is the registration order, changed by
``[callbacks/<name>]`` sections (``Before``/``After``) of the extensions'
``metadata.ini``, then by setting ``prioritized_callbacks_<category>`` (the names
listed there run first, in that order).  Script hooks are ordered the same way
under the categories ``script_<hook>``.

Every call goes through :func:`run`, which reports an exception with the
registering file and carries on with the next callback.
"""
from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from modules.core.extensions import find_extension
from modules.core.options.option_info import OptionHTML, OptionInfo
from modules.core.services import current_services
from modules.scripting.loading_context import current_script
from modules.scripting.reporting import report
from modules.scripting.toposort import topological_sort


@dataclass
class ScriptCallback:
    """One registered callback (A1111's ``script_callbacks.ScriptCallback``)."""

    script: str
    """The file that registered it."""
    callback: Any
    """The function (or, for script hooks, the ``Script`` instance)."""
    name: str | None = None
    """``<extension>/<file>/<category>[/<name>]``, unique within its category."""


CATEGORIES: tuple[str, ...] = (
    "app_started", "model_loaded", "ui_tabs", "ui_train_tabs", "ui_settings", "before_image_saved", "image_saved",
    "extra_noise", "cfg_denoiser", "cfg_denoised", "cfg_after_cfg", "before_component", "after_component",
    "image_grid", "infotext_pasted", "script_unloaded", "before_ui", "on_reload", "list_optimizers", "list_unets",
    "before_token_counter",
)
"""Every callback category of A1111 1.10, in its order (``on_before_reload`` registers under ``on_reload``)."""

callback_map: dict[str, list[ScriptCallback]] = {f"callbacks_{c}": [] for c in CATEGORIES}
"""``callbacks_<category>`` -> callbacks in registration order (A1111's name)."""

_ordered_cache: dict[str, list[ScriptCallback]] = {}

# frames of these modules are the registry itself, never the registering script
_INTERNAL_MODULES = frozenset({__name__, "modules.scripting.callbacks", "modules.script_callbacks"})


def _extensions() -> list:
    return list(current_services().extensions or [])


def caller_file() -> str:
    """The file of the nearest caller outside the callback modules (the script registering a callback)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") not in _INTERNAL_MODULES:
            return frame.f_code.co_filename
        frame = frame.f_back
    loading = current_script()
    return loading.path if loading is not None else "unknown file"


def callback_base_name(filename: str, category: str, name: str | None = None) -> str:
    """``<extension canonical name or base>/<file base name>/<category>[/<name>]``."""
    extension = find_extension(filename, _extensions()) if filename != "unknown file" else None
    extension_name = extension.canonical_name if extension is not None else "base"
    result = f"{extension_name}/{os.path.basename(filename)}/{category}"
    return f"{result}/{name}" if name is not None else result


def add_callback(callbacks: list[ScriptCallback], fun: Any, *, name: str | None = None, category: str = "unknown",
                 filename: str | None = None) -> None:
    """Append ``fun`` to ``callbacks`` under a unique name (``-1``, ``-2``... added on a clash)."""
    filename = filename or caller_file()
    base = callback_base_name(filename, category, name)
    unique = base
    taken = {c.name for c in callbacks}
    index = 0
    while unique in taken:
        index += 1
        unique = f"{base}-{index}"
    callbacks.append(ScriptCallback(filename, fun, unique))
    _ordered_cache.pop(category, None)


def register(category: str, fun: Callable[..., Any], name: str | None = None) -> None:
    """Register ``fun`` in ``category`` for the calling script (what every ``on_*`` function does)."""
    add_callback(callback_map[f"callbacks_{category}"], fun, name=name, category=category, filename=caller_file())


def enumerate_callbacks() -> Iterator[tuple[str, list[ScriptCallback]]]:
    """``(category, callbacks in registration order)`` for every category."""
    for key, callbacks in callback_map.items():
        yield key[len("callbacks_"):], callbacks


def clear_callbacks() -> None:
    """Forget every registered callback (done before scripts are loaded again)."""
    for callbacks in callback_map.values():
        callbacks.clear()
    _ordered_cache.clear()


def remove_callbacks_from_file(filename: str) -> None:
    """Remove every callback registered by ``filename``."""
    for callbacks in callback_map.values():
        callbacks[:] = [c for c in callbacks if c.script != filename]
    _ordered_cache.clear()


def remove_callbacks_for_function(callback_func: Any) -> None:
    """Remove every registration of ``callback_func``, whoever made it."""
    for callbacks in callback_map.values():
        callbacks[:] = [c for c in callbacks if c.callback != callback_func]
    _ordered_cache.clear()


def sort_callbacks(category: str, unordered: list[ScriptCallback], *, enable_user_sort: bool = True) -> list[ScriptCallback]:
    """``unordered`` ordered by the extensions' ``[callbacks/...]`` sections, then by ``prioritized_callbacks_<category>``."""
    callbacks = list(unordered)
    by_name = {c.name: c for c in callbacks}
    instructions: dict[str, list] = {}
    for ext in _extensions():
        metadata = getattr(ext, "metadata", None)
        if metadata is None:
            continue
        for instruction in metadata.list_callback_order_instructions():
            if instruction.name in by_name:
                instructions.setdefault(instruction.name, []).append(instruction)

    if instructions:
        dependencies: dict[str, list[str]] = {c.name: [] for c in callbacks}
        for callback in callbacks:
            for instruction in instructions.get(callback.name, []):
                dependencies[callback.name].extend(x for x in instruction.after if x in by_name)
                for before in instruction.before:
                    if before in by_name:
                        dependencies[before].append(callback.name)
        order = topological_sort(dependencies, on_cycle=lambda names: report(
            f"Callback order for {category} has a cycle: {' -> '.join(names)}"))
        callbacks = [by_name[name] for name in order]

    if enable_user_sort:
        opts = current_services().opts
        prioritized = getattr(opts, f"prioritized_callbacks_{category}", None) if opts is not None else None
        for name in reversed(list(prioritized or [])):
            index = next((i for i, c in enumerate(callbacks) if c.name == name), None)
            if index is not None:
                callbacks.insert(0, callbacks.pop(index))
    return callbacks


def ordered_callbacks(category: str, unordered: list[ScriptCallback] | None = None, *,
                      enable_user_sort: bool = True) -> list[ScriptCallback]:
    """The callbacks of ``category`` in calling order (cached until the category changes)."""
    if unordered is None:
        unordered = callback_map.get(f"callbacks_{category}", [])
    if not enable_user_sort:
        return sort_callbacks(category, unordered, enable_user_sort=False)
    cached = _ordered_cache.get(category)
    if cached is not None and len(cached) == len(unordered):
        return cached
    result = sort_callbacks(category, unordered)
    _ordered_cache[category] = result
    return result


def forget_order_cache() -> None:
    """Recompute orders on next use (after the ``prioritized_callbacks_*`` settings changed)."""
    _ordered_cache.clear()


def report_exception(c: ScriptCallback, job: str) -> None:
    """Report the exception being handled as coming from ``c``'s file."""
    report(f"Error executing callback {job} for {c.script}", exc_info=True)


def run(category: str, job: str, *args: Any, reverse: bool = False, **kwargs: Any) -> list[Any]:
    """Call every callback of ``category`` with ``args``; returns their results (``None`` for a failed one)."""
    callbacks = ordered_callbacks(category)
    results = []
    for c in (reversed(callbacks) if reverse else list(callbacks)):
        try:
            results.append(c.callback(*args, **kwargs))
        except Exception:
            report_exception(c, job)
            results.append(None)
    return results


def isolated_callables(category: str, job: str) -> list[Callable[..., None]]:
    """The callbacks of ``category``, in order, each wrapped so that an exception is reported and swallowed.

    For lower layers that take plain lists of functions (sampling, image saving)
    and must not import the scripting layer.
    """
    def isolate(c: ScriptCallback) -> Callable[..., None]:
        def call(*args: Any, **kwargs: Any) -> None:
            try:
                c.callback(*args, **kwargs)
            except Exception:
                report_exception(c, job)
        return call

    return [isolate(c) for c in ordered_callbacks(category)]


def callbacks_order_settings(script_runners: Iterable[Any] = ()) -> dict[str, Any]:
    """The Settings tab's "Callbacks" section: one ``prioritized_callbacks_<category>`` option per non-empty category.

    ``script_runners`` (the txt2img and img2img runners) add the ``script_<hook>``
    categories.  Built as late as possible, once scripts registered their callbacks.
    """
    options: dict[str, Any] = {"callbacks_order_explanation": OptionHTML(
        "For categories below, callbacks added to dropdowns happen before others, in order listed.")}
    per_category: dict[str, list[ScriptCallback]] = {
        category: ordered_callbacks(category, enable_user_sort=False) for category, _ in enumerate_callbacks()}
    for runner in script_runners:
        for method_name in getattr(runner, "callback_names", []):
            callbacks = per_category.setdefault(f"script_{method_name}", [])
            for addition in runner.create_ordered_callbacks_list(method_name, enable_user_sort=False):
                if all(x.name != addition.name for x in callbacks):
                    callbacks.append(addition)
    for category, callbacks in per_category.items():
        if not callbacks:
            continue
        names = [c.name for c in callbacks]
        info = OptionInfo([], f"{category} callback priority", "Dropdown", {"choices": names, "multiselect": True})
        info.needs_restart()
        info.html("<div class='info'>Default order: <ol>" + "".join(f"<li>{html.escape(str(n))}</li>\n" for n in names)
                  + "</ol></div>")
        options[f"prioritized_callbacks_{category}"] = info
    return options
