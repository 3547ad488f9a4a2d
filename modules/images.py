"""A1111's ``modules.images``: saving pictures, their names, grids and reading infotext back.

The code lives in ``modules.processing`` (``image_saving``, ``image_saving_info``,
``filename_pattern``, ``grids``) and takes its settings as arguments; these
wrappers keep A1111's signatures and read ``shared.opts``, ``shared.cmd_opts``,
the loaded model and VAE, the styles and the save callbacks.
"""
from __future__ import annotations

from typing import Any

from PIL import Image

from modules.processing import filename_pattern as _names
from modules.processing import grids as _grids
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


def _shared() -> Any:
    from modules import shared

    return shared


def _rules() -> _names.FilenameRules:
    return _names.FilenameRules.from_cmd_opts(getattr(_shared(), "cmd_opts", None))


def _context() -> _names.NameContext:
    shared = _shared()
    model = getattr(shared, "sd_model", None)
    info = getattr(model, "sd_checkpoint_info", None)
    styles = getattr(shared, "prompt_styles", None)
    state = getattr(shared, "state", None)
    try:
        from modules import sd_vae
        vae_file = getattr(sd_vae, "loaded_vae_file", None)
    except ImportError:
        vae_file = None
    return _names.NameContext(
        model_hash=getattr(model, "sd_model_hash", None),
        model_name=getattr(info, "name_for_extra", None),
        vae_file=vae_file,
        job_timestamp=getattr(state, "job_timestamp", "") or "",
        style_prompts=getattr(styles, "get_style_prompts", None),
    )


def _callbacks(name: str) -> list:
    try:
        from modules import script_callbacks
    except ImportError:
        return []
    func = getattr(script_callbacks, name, None)
    return [func] if callable(func) else []


def sanitize_filename_part(text: str | None, replace_spaces: bool = True) -> str | None:
    """``text`` made safe as part of a file name (flags ``--unix-filenames-sanitization``, ``--filenames-max-length``)."""
    return _names.sanitize_filename_part(text, replace_spaces, _rules())


class FilenameGenerator(_names.FilenameGenerator):
    """A1111's ``FilenameGenerator(p, seed, prompt, image, zip=False, basename="")`` reading ``shared``."""

    def __init__(self, p: Any, seed: Any, prompt: str | None, image: Any, zip: bool = False, basename: str = "") -> None:
        super().__init__(p, seed, prompt, image, zip, basename, settings=_shared().opts, rules=_rules(),
                         context=_context())


def save_image_with_geninfo(image: Image.Image, geninfo: str | None, filename: str, extension: str | None = None,
                            existing_pnginfo: dict | None = None, pnginfo_section_name: str = "parameters") -> None:
    """Write ``image`` with ``geninfo`` inside (PNG chunk or EXIF UserComment)."""
    _saving.save_image_with_geninfo(image, geninfo, filename, extension, existing_pnginfo, pnginfo_section_name,
                                    settings=_shared().opts)


def save_image(image: Image.Image, path: str, basename: str, seed: Any = None, prompt: str | None = None,
               extension: str = "png", info: str | None = None, short_filename: bool = False, no_prompt: bool = False,
               grid: bool = False, pnginfo_section_name: str = "parameters", p: Any = None,
               existing_info: dict | None = None, forced_filename: str | None = None, suffix: str = "",
               save_to_dirs: bool | None = None) -> tuple[str, str | None]:
    """A1111's ``images.save_image``; returns ``(image file, .txt file or None)``."""
    return _saving.save_image(
        image, path, basename, seed, prompt, extension, info, short_filename, no_prompt, grid, pnginfo_section_name,
        p, existing_info, forced_filename, suffix, save_to_dirs, settings=_shared().opts, rules=_rules(),
        context=_context(), before_save=_callbacks("before_image_saved_callback"),
        after_save=_callbacks("image_saved_callback"))


def image_grid(imgs: list, batch_size: int = 1, rows: int | None = None) -> Image.Image:
    """A1111's ``images.image_grid`` (settings ``n_rows``, ``grid_prevent_empty_spots``, ``grid_background_color``)."""
    return _grids.image_grid(imgs, batch_size, rows, settings=_shared().opts,
                             callbacks=_callbacks("image_grid_callback"))
