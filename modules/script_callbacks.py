"""A1111's ``modules.script_callbacks`` import path: functions an extension registers to be called at points of
the app's life (``on_<event>(callback, *, name=None)``).

The code lives in :mod:`modules.scripting.callbacks` (registering and calling) and
:mod:`modules.scripting.callback_registry` (naming, ordering, isolation); the
parameter classes in the layer that creates them.  This module keeps A1111's names.
"""
from __future__ import annotations

from modules.processing.grids import ImageGridLoopParams  # noqa: F401  (A1111 name)
from modules.processing.image_saving import ImageSaveParams  # noqa: F401  (A1111 name)
from modules.sampling.cfg_params import (  # noqa: F401  (A1111 names)
    AfterCFGCallbackParams,
    CFGDenoisedParams,
    CFGDenoiserParams,
    ExtraNoiseParams,
)
from modules.scripting.callback_registry import (  # noqa: F401  (A1111 names)
    ScriptCallback,
    add_callback,
    callback_map,
    clear_callbacks,
    enumerate_callbacks,
    ordered_callbacks,
    remove_callbacks_for_function,
    report_exception,
    sort_callbacks,
)
from modules.scripting.callbacks import *  # noqa: F401,F403  (A1111 names: on_*, *_callback, parameter classes)
