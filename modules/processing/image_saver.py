"""Saving pictures and drawing grids with a runtime's services (what A1111's ``images`` read from ``shared``).

:mod:`.image_saving`, :mod:`.filename_pattern` and :mod:`.grids` take their settings as arguments; these
functions fill them from a :class:`~modules.core.services.Services`: the settings, the file-name flags, the
loaded model and VAE for the name tags, the styles, and the ``before_image_saved`` / ``image_saved`` /
``image_grid`` callbacks of extensions.  ``modules.images`` calls them with the installed services.
"""
from __future__ import annotations

from typing import Any

from PIL import Image

from modules.core.services import Services
from modules.processing import grids, image_saving
from modules.processing.filename_pattern import FilenameRules, NameContext
from modules.scripting import callback_registry


def filename_rules(services: Services) -> FilenameRules:
    """The file-name flags (``--unix-filenames-sanitization``, ``--filenames-max-length``)."""
    return FilenameRules.from_cmd_opts(services.cmd_opts)


def name_context(services: Services) -> NameContext:
    """What the name tags need from the running app: the loaded model, its VAE file, the job, the styles."""
    model = services.sd_model
    info = getattr(model, "sd_checkpoint_info", None)
    return NameContext(
        model_hash=getattr(model, "sd_model_hash", None),
        model_name=getattr(info, "name_for_extra", None),
        vae_file=getattr(model, "loaded_vae_file", None),
        job_timestamp=getattr(services.state, "job_timestamp", "") or "",
        style_prompts=getattr(services.prompt_styles, "get_style_prompts", None),
    )


def _before_image_saved(params: image_saving.ImageSaveParams) -> None:
    callback_registry.run("before_image_saved", "before_image_saved_callback", params)


def _image_saved(params: image_saving.ImageSaveParams) -> None:
    callback_registry.run("image_saved", "image_saved_callback", params)


def _image_grid(params: Any) -> None:
    callback_registry.run("image_grid", "image_grid", params)


def save_image(services: Services, image: Image.Image, path: str, basename: str, seed: Any = None,
               prompt: str | None = None, extension: str = "png", info: str | None = None,
               short_filename: bool = False, no_prompt: bool = False, grid: bool = False,
               pnginfo_section_name: str = "parameters", p: Any = None, existing_info: dict | None = None,
               forced_filename: str | None = None, suffix: str = "",
               save_to_dirs: bool | None = None) -> tuple[str, str | None]:
    """A1111's ``images.save_image`` under ``services``; returns ``(image file, .txt file or None)``."""
    return image_saving.save_image(
        image, path, basename, seed, prompt, extension, info, short_filename, no_prompt, grid, pnginfo_section_name,
        p, existing_info, forced_filename, suffix, save_to_dirs, settings=services.opts,
        rules=filename_rules(services), context=name_context(services), before_save=[_before_image_saved],
        after_save=[_image_saved])


def image_grid(services: Services, imgs: list, batch_size: int = 1, rows: int | None = None) -> Image.Image:
    """A1111's ``images.image_grid`` (settings ``n_rows``, ``grid_prevent_empty_spots``, ``grid_background_color``)."""
    return grids.image_grid(imgs, batch_size, rows, settings=services.opts, callbacks=[_image_grid])
