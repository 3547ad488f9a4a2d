"""A1111's ``modules.scripts``: the ``Script`` base class extensions subclass, the loaded scripts and the runners.

After :func:`load_scripts` (start-up step "load scripts"):

- :data:`scripts_data` / :data:`postprocessing_scripts_data`: the ``Script`` and
  ``ScriptPostprocessing`` classes found, in load order;
- :data:`scripts_txt2img`, :data:`scripts_img2img`: one
  :class:`~modules.scripting.runner.ScriptRunner` per tab, scripts instantiated;
  the processing layer calls their hooks through ``p.scripts``;
- :data:`scripts_postproc`: the Extras tab's postprocessing runner.

The code lives in :mod:`modules.scripting`; this module keeps A1111's names.
"""
from __future__ import annotations

import os
from typing import Any

from modules.core.extensions import ScriptFile  # noqa: F401  (A1111 name)
from modules.runtime.script_loading import LoadedScripts, ScriptClassData  # noqa: F401  (A1111 name)
from modules.scripting import callback_registry
from modules.scripting.hook_args import (  # noqa: F401  (A1111 names)
    MaskBlendArgs,
    OnComponent,
    PostprocessBatchListArgs,
    PostprocessImageArgs,
    PostprocessMaskOverlayArgs,
    PostProcessMaskOverlayArgs,
    PostSampleArgs,
)
from modules.scripting.load_order import ScriptWithDependencies  # noqa: F401  (A1111 name)
from modules.scripting.loading_context import current_script
from modules.scripting.reporting import wrap_call  # noqa: F401  (A1111 name)
from modules.scripting.runner import ScriptRunner
from modules.scripting.script_base import AlwaysVisible, Script, ScriptBuiltinUI  # noqa: F401  (A1111 names)
from modules.scripting.toposort import topological_sort  # noqa: F401  (A1111 name)

scripts_data: list[ScriptClassData] = []
"""Every ``Script`` subclass found by :func:`load_scripts`, in load order (A1111 name)."""

postprocessing_scripts_data: list[ScriptClassData] = []
"""Every ``ScriptPostprocessing`` subclass found by :func:`load_scripts`, in load order."""

scripts_txt2img: ScriptRunner | None = None
"""The txt2img tab's scripts."""

scripts_img2img: ScriptRunner | None = None
"""The img2img tab's scripts."""

scripts_postproc: Any = None
"""The Extras tab's postprocessing runner (``scripts_postprocessing.ScriptPostprocessingRunner``)."""

scripts_current: ScriptRunner | None = None
"""The runner whose tab the UI is building right now (component hooks go to it)."""

_loaded_modules: list = []


def _install_dir() -> str:
    from modules import shared
    from modules.paths_internal import script_path

    return shared.paths.install_dir if shared.paths is not None else script_path


def _active_extensions() -> list:
    from modules import shared

    return [ext for ext in (shared.extensions or []) if getattr(ext, "enabled", False)]


def basedir() -> str:
    """The folder of the extension whose script is being loaded (the install root for the root ``scripts/``).

    Call it at the top level of a script file; afterwards it returns the install root.
    """
    loading = current_script()
    return loading.basedir if loading is not None else _install_dir()


def __getattr__(name: str) -> Any:
    if name == "current_basedir":
        return basedir()
    raise AttributeError(f"module 'modules.scripts' has no attribute {name!r}")


def list_scripts(scriptdirname: str, extension: str, *, include_extensions: bool = True) -> list[ScriptFile]:
    """Files of ``<root>/<scriptdirname>`` and of each active extension's, in load order (A1111 name)."""
    from modules.scripting import load_order

    return load_order.list_scripts(scriptdirname, extension, install_dir=_install_dir(),
                                   extensions=_active_extensions(), include_extensions=include_extensions)


def list_files_with_name(filename: str) -> list[str]:
    """Paths of ``filename`` in the install root and in each active extension's folder, where it exists."""
    dirs = [_install_dir(), *(ext.path for ext in _active_extensions())]
    return [os.path.join(d, filename) for d in dirs if os.path.isfile(os.path.join(d, filename))]


def script_files_dirs() -> list[tuple[str, str]]:
    """``(basedir, scripts dir)`` of the install root and each active extension, in listing order."""
    return [(_install_dir(), os.path.join(_install_dir(), "scripts")),
            *((ext.path, os.path.join(ext.path, "scripts")) for ext in _active_extensions())]


def load_scripts() -> LoadedScripts:
    """Find and import every script file, collect its classes and build the three runners.

    Order: the install root's ``scripts/``, the active extensions' ``scripts/``
    (arranged by ``metadata.ini``), then ``modules/processing_scripts/``.  Each
    import is isolated and reported with its file; while a file is imported,
    :func:`basedir` names its extension and callbacks it registers are
    attributed to it.  Callbacks from an earlier load are dropped first.  The
    result is also stored as ``shared.scripts``.
    """
    global scripts_txt2img, scripts_img2img, scripts_postproc
    from modules import shared
    from modules.runtime import script_loading
    from modules.scripting import load_order
    from modules.scripting.auto_postprocessing import ScriptPostprocessingForMainUI
    from modules.scripting.loading_context import loading
    from modules.scripting.postprocessing import ScriptPostprocessing, ScriptPostprocessingRunner

    script_loading.forget_modules(_loaded_modules)
    _loaded_modules.clear()
    scripts_data.clear()
    postprocessing_scripts_data.clear()
    callback_registry.clear_callbacks()

    install_dir = _install_dir()
    load_order.report_extension_requirements(shared.extensions or [])
    files = list_scripts("scripts", ".py")
    # the built-in UI scripts (Sampler, Seed, Refiner) live in the install's code: a test install without them
    # loads only its own scripts
    files += load_order.list_scripts(os.path.join("modules", "processing_scripts"), ".py", install_dir=install_dir,
                                     extensions=(), include_extensions=False)

    loaded = script_loading.load_scripts(
        files, (Script, ScriptPostprocessing), exclude=(ScriptBuiltinUI, ScriptPostprocessingForMainUI),
        file_context=lambda f: loading(f, install_dir))
    _loaded_modules.extend(loaded.modules)
    for data in loaded.classes:
        (scripts_data if issubclass(data.script_class, Script) else postprocessing_scripts_data).append(data)

    scripts_txt2img = ScriptRunner()
    scripts_img2img = ScriptRunner()
    scripts_postproc = ScriptPostprocessingRunner()
    scripts_txt2img.initialize_scripts(False)
    scripts_img2img.initialize_scripts(True)
    scripts_postproc.initialize_scripts(postprocessing_scripts_data)
    shared.scripts = loaded
    return loaded


reload_scripts = load_scripts
"""A1111's compatibility alias."""


def reload_script_body_only() -> None:
    """Re-import the scripts' files and replace their instances, keeping the UI and argument indexes."""
    cache: dict = {}
    for runner in (scripts_txt2img, scripts_img2img):
        if runner is not None:
            runner.reload_sources(cache)
