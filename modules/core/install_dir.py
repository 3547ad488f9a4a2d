"""The repository root: the one path both the flag defaults (:mod:`.cmd_args`) and the data paths
(:mod:`.paths`, which parses the default flags) start from."""
from __future__ import annotations

import os

INSTALL_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""The repository root (A1111's ``script_path``)."""
