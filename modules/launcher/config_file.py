"""Reading ``config.json`` for the launcher's few needs (disabled extensions, sysinfo).

The launcher only reads; moving a corrupt file aside is the settings store's job.
"""
from __future__ import annotations

import json
from typing import Any


def read_config(path: str) -> dict[str, Any]:
    """The settings in ``path`` as a dict; ``{}`` when the file is missing, unreadable or not a JSON object."""
    try:
        with open(path, encoding="utf8") as file:
            data = json.load(file)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        print(f"Could not read settings from {path} ({e}); extensions are listed with default settings.")
        return {}
    return data if isinstance(data, dict) else {}
