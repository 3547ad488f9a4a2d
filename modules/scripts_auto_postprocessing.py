"""A1111's ``modules.scripts_auto_postprocessing`` import path (code in :mod:`modules.scripting.auto_postprocessing`)."""
from __future__ import annotations

from modules.scripting.auto_postprocessing import (  # noqa: F401  (A1111 names)
    ScriptPostprocessingForMainUI,
    create_auto_preprocessing_script_data,
)
