"""A1111's ``modules.scripts_postprocessing`` import path (the code lives in :mod:`modules.scripting.postprocessing`)."""
from __future__ import annotations

from modules.scripting.postprocessing import (  # noqa: F401  (A1111 names)
    PostprocessedImage,
    PostprocessedImageSharedInfo,
    ScriptPostprocessing,
    ScriptPostprocessingRunner,
)
from modules.scripting.reporting import wrap_call  # noqa: F401  (A1111 name)
