"""A1111's ``modules.modelloader`` file helpers, for extensions (nothing is ever downloaded)."""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from modules.core.services import current_services
from modules.models import model_files
from modules.models.model_files import (  # noqa: F401  (A1111 names)
    ModelFileMissingError,
    friendly_name,
    load_file_from_url,
)


def _list_hidden() -> bool:
    return bool(getattr(current_services().opts, "list_hidden_files", True))


def walk_files(path: str, allowed_extensions: Iterable[str] | None = None) -> Iterator[str]:
    """The files under ``path`` in natural order (setting ``list_hidden_files`` applies)."""
    return model_files.walk_files(path, allowed_extensions, list_hidden=_list_hidden())


def load_models(model_path: str, model_url: str | None = None, command_path: str | None = None,
                ext_filter: Iterable[str] | None = None, download_name: str | None = None,
                ext_blacklist: Iterable[str] | None = None, hash_prefix: str | None = None) -> list[str]:
    """The model files in ``command_path`` (if given) and ``model_path``.

    A1111 downloads ``model_url`` when nothing is found; here that only prints
    where to put the file.
    """
    found = model_files.list_model_files(model_files.model_search_dirs(model_path, command_path),
                                         ext_filter, ext_blacklist, list_hidden=_list_hidden())
    if model_url is not None and not found:
        name = download_name or friendly_name(model_url)
        print(f"No model found in {model_path}; this web UI does not download. Get {name} from {model_url} "
              f"and put it in {model_path}")
    return found


def cleanup_models() -> list[Any]:
    """Move model files from A1111's old locations into ``models/`` (see :func:`model_files.cleanup_models`)."""
    return model_files.cleanup_models(current_services().paths)
