"""A1111's ``modules.scripts``: the ``Script`` base class extensions subclass, the loaded scripts and the runners.

After :func:`load_scripts` (start-up step "load scripts", :mod:`modules.runtime.script_loading`),
these names read (and write) the installed :class:`~modules.core.services.Services`:

- ``scripts_data`` / ``postprocessing_scripts_data``: the ``Script`` and
  ``ScriptPostprocessing`` classes found, in load order;
- ``scripts_txt2img``, ``scripts_img2img``: one
  :class:`~modules.scripting.runner.ScriptRunner` per tab, scripts instantiated;
  the processing layer calls their hooks through ``p.scripts``;
- ``scripts_postproc``: the Extras tab's postprocessing runner;
- ``scripts_current``: the runner whose tab the UI is building.

The code lives in :mod:`modules.scripting`; this module keeps A1111's names.
"""
from __future__ import annotations

from typing import Any

from modules.core.extensions import ScriptFile  # noqa: F401  (A1111 name)
from modules.core.services import SCRIPT_RUNNER_NAMES, mirror_module
from modules.runtime.script_loading import load_scripts, reload_script_body_only  # noqa: F401  (A1111 names)
from modules.runtime.script_loading import loaded_modules as _loaded_modules  # noqa: F401  (tests clear it)
from modules.scripting import callback_registry  # noqa: F401  (was importable from here)
from modules.scripting.hook_args import (  # noqa: F401  (A1111 names)
    MaskBlendArgs,
    OnComponent,
    PostprocessBatchListArgs,
    PostprocessImageArgs,
    PostprocessMaskOverlayArgs,
    PostProcessMaskOverlayArgs,
    PostSampleArgs,
)
from modules.scripting.importing import LoadedScripts, ScriptClassData  # noqa: F401  (A1111 names)
from modules.scripting.load_order import ScriptWithDependencies  # noqa: F401  (A1111 name)
from modules.scripting.loading_context import current_script  # noqa: F401  (was importable from here)
from modules.scripting.reporting import wrap_call  # noqa: F401  (A1111 name)
from modules.scripting.runner import ScriptRunner  # noqa: F401  (A1111 name)
from modules.scripting.script_base import AlwaysVisible, Script, ScriptBuiltinUI  # noqa: F401  (A1111 names)
from modules.scripting.script_paths import (  # noqa: F401  (A1111 names)
    basedir,
    list_files_with_name,
    list_scripts,
    script_files_dirs,
)
from modules.scripting.toposort import topological_sort  # noqa: F401  (A1111 name)

reload_scripts = load_scripts
"""A1111's compatibility alias."""


def __getattr__(name: str) -> Any:
    if name == "current_basedir":
        return basedir()
    raise AttributeError(f"module 'modules.scripts' has no attribute {name!r}")


mirror_module(__name__, SCRIPT_RUNNER_NAMES)
