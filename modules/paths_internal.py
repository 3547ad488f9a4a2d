"""A1111's ``modules.paths_internal`` names, read from the live paths.

A1111 computed these at import from a second parse of ``sys.argv``; here they
come from the installed services' paths (set by the bootstrap), or from the defaults
(everything under the install root) before the bootstrap ran.
"""
from __future__ import annotations

import os
from typing import Any

from modules.core.paths import INSTALL_DIR, DataPaths, default_paths, live_paths  # noqa: F401  (were importable here)

script_path = INSTALL_DIR
modules_path = os.path.join(INSTALL_DIR, "modules")
sd_configs_path = os.path.join(INSTALL_DIR, "configs")
sd_default_config = os.path.join(sd_configs_path, "v1-inference.yaml")
extensions_builtin_dir = os.path.join(INSTALL_DIR, "extensions-builtin")
config_states_dir = os.path.join(INSTALL_DIR, "config_states")
roboto_ttf_file = os.path.join(modules_path, "Roboto-Regular.ttf")


def __getattr__(name: str) -> Any:
    p = live_paths()
    values = {
        "data_path": p.data_dir,
        "models_path": p.models_dir,
        "extensions_dir": p.extensions_dir,
        "default_output_dir": p.outputs_dir,
        "sd_model_file": os.path.join(p.install_dir, "model.ckpt"),
        "default_sd_model_file": os.path.join(p.install_dir, "model.ckpt"),
        "cwd": os.getcwd(),
    }
    if name in values:
        return values[name]
    raise AttributeError(f"modules.paths_internal has no attribute {name!r}")
