"""Reading model YAMLs (LDM/SGM format) as data, and where the bundled ones live."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from modules.models.config_registry import ConfigError


def configs_dir() -> Path:
    """The repository's ``configs/`` folder (A1111's ``sd_configs_path``)."""
    return Path(__file__).resolve().parents[2] / "configs"


def bundled_config(name: str) -> Path:
    """Path of a bundled YAML by file name, e.g. ``v1-inference.yaml``."""
    return configs_dir() / name


def read_config(path: str | Path) -> dict[str, Any]:
    """Parse a YAML into plain containers.

    Interpolations are left unresolved: a YAML next to a downloaded checkpoint
    must not make us read environment variables or other files.
    """
    try:
        parsed = OmegaConf.load(str(path))
        data = OmegaConf.to_container(parsed, resolve=False)
    except (OSError, OmegaConfBaseException, yaml.YAMLError, ValueError) as e:
        raise ConfigError(f"{path}: cannot read model config: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a model config must be a mapping")
    return data
