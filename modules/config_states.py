"""A1111's ``modules.config_states`` import path: the module is :mod:`modules.runtime.config_states`.

This name is that very module (``sys.modules`` entry), so every name stays (``all_config_states`` is the
live dict) and replacing one of its functions (``webui_root``) changes the one the app calls.
"""
from __future__ import annotations

import sys

from modules.runtime import config_states as _implementation

sys.modules[__name__] = _implementation
