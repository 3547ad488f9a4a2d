"""Start-up step "load scripts": import every script file and build the tabs' runners on the services.

Which files load and in which order is :mod:`modules.scripting.load_order`'s job, the isolated import
:mod:`modules.scripting.importing`'s; this step puts the classes found and the three runners
(txt2img, img2img, Extras) on a :class:`~modules.core.services.Services` (A1111's
``modules.scripts.load_scripts``, whose names ``modules.scripts`` keeps as views of the services).
"""
from __future__ import annotations

import os
from types import ModuleType

from modules.core.paths import INSTALL_DIR
from modules.core.services import Services, current_services
from modules.scripting import callback_registry, load_order
from modules.scripting.auto_postprocessing import ScriptPostprocessingForMainUI, create_auto_preprocessing_script_data
from modules.scripting.importing import LoadedScripts, forget_modules, import_scripts
from modules.scripting.loading_context import loading
from modules.scripting.postprocessing import ScriptPostprocessing, ScriptPostprocessingRunner
from modules.scripting.runner import ScriptRunner
from modules.scripting.script_base import Script, ScriptBuiltinUI

loaded_modules: list[ModuleType] = []
"""The script modules of the last load (``sys.modules`` is process-wide: they are dropped before the next)."""


def load_scripts(services: Services | None = None) -> LoadedScripts:
    """Find and import every script file, collect its classes and build the three runners on ``services``.

    Order: the install root's ``scripts/``, the active extensions' ``scripts/``
    (arranged by ``metadata.ini``), then ``modules/processing_scripts/``.  Each
    import is isolated and reported with its file; while a file is imported,
    ``scripts.basedir()`` names its extension and callbacks it registers are
    attributed to it.  Callbacks from an earlier load are dropped first.  Sets
    ``scripts_data``, ``postprocessing_scripts_data``, ``scripts_txt2img``,
    ``scripts_img2img``, ``scripts_postproc`` and ``scripts`` (the result) on
    ``services`` (default: the installed ones, which extensions' scripts read while
    they load).
    """
    services = services if services is not None else current_services()
    forget_modules(loaded_modules)
    loaded_modules.clear()
    services.scripts_data = []
    services.postprocessing_scripts_data = []
    callback_registry.clear_callbacks()

    install_dir = services.paths.install_dir if services.paths is not None else INSTALL_DIR
    load_order.report_extension_requirements(services.extensions or [])
    active = [ext for ext in (services.extensions or []) if getattr(ext, "enabled", False)]
    files = load_order.list_scripts("scripts", ".py", install_dir=install_dir, extensions=active)
    # the built-in UI scripts (Sampler, Seed, Refiner) live in the install's code: a test install without them
    # loads only its own scripts
    files += load_order.list_scripts(os.path.join("modules", "processing_scripts"), ".py", install_dir=install_dir,
                                     extensions=(), include_extensions=False)

    loaded = import_scripts(files, (Script, ScriptPostprocessing),
                            exclude=(ScriptBuiltinUI, ScriptPostprocessingForMainUI),
                            file_context=lambda f: loading(f, install_dir))
    loaded_modules.extend(loaded.modules)
    for data in loaded.classes:
        is_script = issubclass(data.script_class, Script)
        (services.scripts_data if is_script else services.postprocessing_scripts_data).append(data)
    build_runners(services)
    services.scripts = loaded
    return loaded


def build_runners(services: Services) -> None:
    """The txt2img, img2img and Extras runners of the classes ``services`` found, scripts instantiated."""
    auto_postprocessing = create_auto_preprocessing_script_data(services.opts, services.postprocessing_scripts_data)
    services.scripts_txt2img = ScriptRunner(services)
    services.scripts_img2img = ScriptRunner(services)
    services.scripts_postproc = ScriptPostprocessingRunner(services)
    services.scripts_txt2img.initialize_scripts(False, auto_postprocessing + list(services.scripts_data))
    services.scripts_img2img.initialize_scripts(True, auto_postprocessing + list(services.scripts_data))
    services.scripts_postproc.initialize_scripts(services.postprocessing_scripts_data)


def reload_script_body_only(services: Services | None = None) -> None:
    """Re-import the scripts' files and replace their instances, keeping the UI and argument indexes."""
    services = services if services is not None else current_services()
    cache: dict = {}
    for runner in (services.scripts_txt2img, services.scripts_img2img):
        if runner is not None:
            runner.reload_sources(cache)
