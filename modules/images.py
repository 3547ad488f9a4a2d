"""A1111's ``modules.images``: saving pictures, their names, grids and reading infotext back.

The code lives in ``modules.processing`` (``image_saving``, ``image_saving_info``,
``filename_pattern``, ``grids``, and ``image_saver``, which fills their settings
from a runtime's services); these wrappers keep A1111's signatures and use the
installed services (``modules.shared``'s settings, flags, loaded model, styles
and the save callbacks).
"""
from __future__ import annotations

from typing import Any

from PIL import Image

from modules.core.services import current_services
from modules.processing import filename_pattern as _names
from modules.processing import image_saver as _saver
from modules.processing import image_saving as _saving
from modules.processing.filename_pattern import (  # noqa: F401  (A1111 names)
    NOTHING_AND_SKIP_PREVIOUS_TEXT,
    get_next_sequence_number,
    re_nonletters,
    re_pattern,
    re_pattern_arg,
)
from modules.processing.image_saving import LANCZOS, ImageSaveParams  # noqa: F401
from modules.processing.image_saving_info import IGNORED_INFO_KEYS, image_data, read_info_from_image  # noqa: F401


def sanitize_filename_part(text: str | None, replace_spaces: bool = True) -> str | None:
    """``text`` made safe as part of a file name (flags ``--unix-filenames-sanitization``, ``--filenames-max-length``)."""
    return _names.sanitize_filename_part(text, replace_spaces, _saver.filename_rules(current_services()))


class FilenameGenerator(_names.FilenameGenerator):
    """A1111's ``FilenameGenerator(p, seed, prompt, image, zip=False, basename="")`` reading the installed services."""

    def __init__(self, p: Any, seed: Any, prompt: str | None, image: Any, zip: bool = False, basename: str = "") -> None:
        services = current_services()
        super().__init__(p, seed, prompt, image, zip, basename, settings=services.opts,
                         rules=_saver.filename_rules(services), context=_saver.name_context(services))


def save_image_with_geninfo(image: Image.Image, geninfo: str | None, filename: str, extension: str | None = None,
                            existing_pnginfo: dict | None = None, pnginfo_section_name: str = "parameters") -> None:
    """Write ``image`` with ``geninfo`` inside (PNG chunk or EXIF UserComment)."""
    _saving.save_image_with_geninfo(image, geninfo, filename, extension, existing_pnginfo, pnginfo_section_name,
                                    settings=current_services().opts)


def save_image(image: Image.Image, path: str, basename: str, seed: Any = None, prompt: str | None = None,
               extension: str = "png", info: str | None = None, short_filename: bool = False, no_prompt: bool = False,
               grid: bool = False, pnginfo_section_name: str = "parameters", p: Any = None,
               existing_info: dict | None = None, forced_filename: str | None = None, suffix: str = "",
               save_to_dirs: bool | None = None) -> tuple[str, str | None]:
    """A1111's ``images.save_image``; returns ``(image file, .txt file or None)``."""
    return _saver.save_image(current_services(), image, path, basename, seed, prompt, extension, info, short_filename,
                             no_prompt, grid, pnginfo_section_name, p, existing_info, forced_filename, suffix,
                             save_to_dirs)


def image_grid(imgs: list, batch_size: int = 1, rows: int | None = None) -> Image.Image:
    """A1111's ``images.image_grid`` (settings ``n_rows``, ``grid_prevent_empty_spots``, ``grid_background_color``)."""
    return _saver.image_grid(current_services(), imgs, batch_size, rows)
