"""A1111's old name for :mod:`modules.infotext_utils`, kept for extensions that import it."""
from __future__ import annotations

from modules.infotext_utils import *  # noqa: F401,F403
from modules.infotext_utils import __all__  # noqa: F401
