"""A1111's ``modules.localization``: the code lives in :mod:`modules.core.localization`."""
from __future__ import annotations

from modules.core import localization as _localization
from modules.core.localization import localization_data, localization_js, localizations  # noqa: F401  (A1111 names)
from modules.core.services import current_services
from modules.scripting.script_paths import list_scripts


def list_localizations(dirname: str | None = None) -> dict[str, list[str]]:
    """List the ``.json`` files of ``dirname`` (default ``--localizations-dir``) and of active extensions."""
    if dirname is None:
        dirname = getattr(current_services().cmd_opts, "localizations_dir", None)
    return _localization.list_localizations(dirname, list_scripts("localizations", ".json"))
