"""A1111-era import path of the Extensions tab's actions: the module is :mod:`modules.runtime.extensions_install`.

This name is that very module (``sys.modules`` entry), so every name stays and a
test or an extension replacing one of its functions (``exit_process``) changes the one the app calls.
"""
from __future__ import annotations

import sys

from modules.runtime import extensions_install as _implementation

sys.modules[__name__] = _implementation
