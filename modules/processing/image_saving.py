"""Writing pictures to ``outputs/``: folder, file name, format and the infotext inside the file.

:func:`save_image` is A1111 1.10's ``images.save_image``: the sub-folder
(``directories_filename_pattern``), the ``NNNNN-<decoration>.<ext>`` name, the
before/after-save callbacks, an atomic write (``.tmp`` then rename), the
optional downscaled ``.jpg`` copy (``export_for_4chan``) and ``.txt`` file
(``save_txt``).  The infotext goes into a PNG text chunk (``parameters``, or
``pnginfo_section_name``) or, for JPEG/WEBP/AVIF, into EXIF ``UserComment``.

Where A1111 misbehaves this does not: a file renamed by ``Add number suffix``
is the name returned; a long name is cut in its file-name part only; a missing
infotext writes no chunk (A1111 writes the text ``None``).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import piexif
import piexif.helper
from PIL import Image, PngImagePlugin

from modules.core.options.errors import OptionValueError
from modules.processing.filename_pattern import (
    FilenameGenerator,
    FilenameRules,
    NameContext,
    get_next_sequence_number,
)

log = logging.getLogger(__name__)

LANCZOS = Image.Resampling.LANCZOS

JPEG_MAX_SIDE = 65535
WEBP_MAX_SIDE = 16383
MAX_NUMBER_TRIES = 500

SAVE_DEFAULTS: dict[str, Any] = {
    "samples_filename_pattern": "",
    "save_images_add_number": True,
    "save_images_replace_action": "Replace",
    "save_to_dirs": True,
    "grid_save_to_dirs": True,
    "directories_filename_pattern": "[date]",
    "directories_max_prompt_words": 8,
    "enable_pnginfo": True,
    "jpeg_quality": 80,
    "webp_lossless": False,
    "export_for_4chan": True,
    "img_downscale_threshold": 4.0,
    "target_side_length": 4000,
    "save_txt": False,
}
"""The saving settings and their A1111 defaults (used when ``settings`` lacks one)."""


def _opt(settings: Any, key: str) -> Any:
    if settings is None:
        return SAVE_DEFAULTS[key]
    return getattr(settings, key, SAVE_DEFAULTS[key])


@dataclass
class ImageSaveParams:
    """What ``before_image_saved``/``image_saved`` callbacks get (A1111's ``script_callbacks.ImageSaveParams``).

    A before-save callback may replace ``image``, change ``filename`` or edit
    ``pnginfo`` (the text chunks; the infotext is under ``parameters``).
    """

    image: Image.Image
    p: Any
    filename: str
    pnginfo: dict[str, Any]


SaveCallback = Callable[[ImageSaveParams], None]


def _exif_user_comment(geninfo: str) -> bytes:
    return piexif.dump({"Exif": {piexif.ExifIFD.UserComment: piexif.helper.UserComment.dump(geninfo, encoding="unicode")}})


def save_image_with_geninfo(image: Image.Image, geninfo: str | None, filename: str, extension: str | None = None,
                            existing_pnginfo: Mapping[str, Any] | None = None,
                            pnginfo_section_name: str = "parameters", *, settings: Any = None) -> None:
    """Write ``image`` to ``filename`` in the format of ``extension`` (``.png``, ``.jpg``...) with ``geninfo`` inside.

    PNG: every entry of ``existing_pnginfo`` plus ``geninfo`` under
    ``pnginfo_section_name`` become text chunks.  JPEG/WEBP/AVIF: ``geninfo`` goes
    into EXIF ``UserComment`` (UTF-16 with the ``UNICODE`` header).  GIF: the
    comment.  Setting ``enable_pnginfo`` off writes no metadata.
    """
    if extension is None:
        extension = os.path.splitext(filename)[1]
    image_format = Image.registered_extensions()[extension.lower()]
    ext = extension.lower()
    enable = _opt(settings, "enable_pnginfo")
    quality = _opt(settings, "jpeg_quality")

    if ext == ".png":
        pnginfo_data = None
        if enable:
            chunks = dict(existing_pnginfo or {})
            chunks[pnginfo_section_name] = geninfo
            pnginfo_data = PngImagePlugin.PngInfo()
            for key, value in chunks.items():
                if value is not None:
                    pnginfo_data.add_text(key, str(value))
        image.save(filename, format=image_format, pnginfo=pnginfo_data)

    elif ext in (".jpg", ".jpeg", ".webp"):
        if image.mode == "RGBA":
            image = image.convert("RGB")
        elif image.mode == "I;16":
            # 16-bit greyscale scaled to 8 bits (JPEG takes no 16-bit data)
            image = image.point(lambda v: v * 0.0038910505836576).convert("RGB" if ext == ".webp" else "L")
        image.save(filename, format=image_format, quality=quality, lossless=_opt(settings, "webp_lossless"))
        if enable and geninfo is not None:
            piexif.insert(_exif_user_comment(geninfo), filename)

    elif ext in (".avif", ".jxl"):
        exif_bytes = _exif_user_comment(geninfo) if enable and geninfo is not None else None
        image.save(filename, format=image_format, quality=quality, exif=exif_bytes)

    elif ext == ".gif":
        image.save(filename, format=image_format, comment=geninfo if enable and geninfo is not None else "")

    else:
        image.save(filename, format=image_format, quality=quality)


def _max_name_length(path: str) -> int | None:
    try:
        return os.statvfs(path).f_namemax
    except (AttributeError, OSError):  # no statvfs on Windows
        return None


def _numbered_filename(path: str, basename: str, decoration: str, extension: str) -> str:
    basecount = get_next_sequence_number(path, basename)
    fullfn = ""
    for i in range(MAX_NUMBER_TRIES):
        number = f"{basecount + i:05}" if basename == "" else f"{basename}-{basecount + i:04}"
        fullfn = os.path.join(path, f"{number}{decoration}.{extension}")
        if not os.path.exists(fullfn):
            break
    return fullfn


def _file_decoration(p: Any, seed: Any, short_filename: bool, settings: Any) -> str:
    if short_filename or seed is None:
        return ""
    decoration = None
    override = getattr(p, "override_settings", None)
    if isinstance(override, Mapping):
        # img2img batch names its outputs through override_settings
        decoration = override.get("samples_filename_pattern")
    if decoration is None:
        decoration = _opt(settings, "samples_filename_pattern") or (
            "[seed]" if _opt(settings, "save_to_dirs") else "[seed]-[prompt_spaces]")
    return decoration


def _check_inside(folder: str, target: str, key: str) -> None:
    """Refuse a name that leaves ``folder`` (settings are checked when set; this is the second line,
    for patterns and names that come from elsewhere): ``key`` names what made the name."""
    root = os.path.realpath(folder)
    resolved = os.path.realpath(target)
    if resolved != root and os.path.commonpath([resolved, root]) != root:
        raise OptionValueError(key, f"{target!r} would be outside the output folder {folder}; nothing was saved")


def _check_extension(extension: str) -> None:
    if not extension.isalnum():
        raise OptionValueError("samples_format", f"{extension!r} is not an image file extension; nothing was saved")


def save_image(image: Image.Image, path: str, basename: str, seed: Any = None, prompt: str | None = None,
               extension: str = "png", info: str | None = None, short_filename: bool = False, no_prompt: bool = False,
               grid: bool = False, pnginfo_section_name: str = "parameters", p: Any = None,
               existing_info: Mapping[str, Any] | None = None, forced_filename: str | None = None, suffix: str = "",
               save_to_dirs: bool | None = None, *, settings: Any = None, rules: FilenameRules | None = None,
               context: NameContext | None = None, before_save: Iterable[SaveCallback] = (),
               after_save: Iterable[SaveCallback] = ()) -> tuple[str, str | None]:
    """Save ``image`` under ``path``; returns ``(image file, .txt file or None)``.

    ``basename`` prefixes the number (``grid`` -> ``grid-0001``; empty -> ``00001``);
    ``seed``/``prompt`` feed the name tags (no decoration without a seed);
    ``info`` is the infotext; ``short_filename`` drops the decoration; ``no_prompt``
    keeps a picture out of the sub-folder; ``grid`` uses the grid folder setting;
    ``existing_info`` holds further PNG chunks; ``forced_filename`` is the whole
    name without extension; ``suffix`` follows the decoration
    (``-before-highres-fix``); ``save_to_dirs`` overrides the settings.
    ``settings`` is the options object, ``rules`` the file-name flags, ``context``
    what the name tags need from the running app, and ``before_save``/``after_save``
    the callbacks (each gets the same :class:`ImageSaveParams`).

    The steps: the file name (:func:`target_filename`), the metadata (:func:`pnginfo_chunks`), the
    before-save callbacks, the write (:func:`write_image_files`), the after-save callbacks.
    """
    namegen = FilenameGenerator(p, seed, prompt, image, basename=basename, settings=settings,
                                rules=rules or FilenameRules(), context=context)
    extension = _fitting_extension(image, extension)
    if save_to_dirs is None:
        save_to_dirs = (grid and _opt(settings, "grid_save_to_dirs")) or (
            not grid and _opt(settings, "save_to_dirs") and not no_prompt)
    fullfn = target_filename(namegen, path, basename, extension, p, seed, short_filename, forced_filename, suffix,
                             save_to_dirs, settings)

    params = ImageSaveParams(image, p, fullfn, pnginfo_chunks(existing_info, info, pnginfo_section_name))
    for callback in before_save:
        callback(params)

    fullfn, txt_fullfn = write_image_files(params, pnginfo_section_name, settings)

    for callback in after_save:
        callback(params)

    return fullfn, txt_fullfn


def _fitting_extension(image: Image.Image, extension: str) -> str:
    """``extension``, or ``png`` when the picture is too large for it (WEBP and JPEG cannot hold it; PNG can)."""
    if ((image.height > JPEG_MAX_SIDE or image.width > JPEG_MAX_SIDE) and extension.lower() in ("jpg", "jpeg")
            or (image.height > WEBP_MAX_SIDE or image.width > WEBP_MAX_SIDE) and extension.lower() == "webp"):
        log.warning("Image dimensions too large; saving as PNG")
        return "png"
    return extension


def target_filename(namegen: FilenameGenerator, path: str, basename: str, extension: str, p: Any, seed: Any,
                    short_filename: bool, forced_filename: str | None, suffix: str, save_to_dirs: bool,
                    settings: Any) -> str:
    """The file a picture goes to: the sub-folder (``directories_filename_pattern``, created), then the
    numbered, decorated name, or ``forced_filename``; refused when it would leave ``path``."""
    _check_extension(extension)
    base_path = path
    if save_to_dirs:
        dirname = namegen.apply(_opt(settings, "directories_filename_pattern") or "[prompt_words]")
        path = os.path.join(path, dirname.lstrip(" ").rstrip("\\ /"))
        _check_inside(base_path, path, "directories_filename_pattern")

    os.makedirs(path, exist_ok=True)

    if forced_filename is None:
        decoration = namegen.apply(_file_decoration(p, seed, short_filename, settings)) + suffix
        add_number = _opt(settings, "save_images_add_number") or decoration == ""
        if decoration != "" and add_number:
            decoration = f"-{decoration}"
        if add_number:
            fullfn = _numbered_filename(path, basename, decoration, extension)
        else:
            fullfn = os.path.join(path, f"{decoration}.{extension}")
    else:
        fullfn = os.path.join(path, f"{forced_filename}.{extension}")
    _check_inside(path, fullfn, "samples_filename_pattern" if forced_filename is None else "forced_filename")
    return fullfn


def pnginfo_chunks(existing_info: Mapping[str, Any] | None, info: str | None,
                   pnginfo_section_name: str) -> dict[str, Any]:
    """The text chunks to write: ``existing_info`` and the infotext under ``pnginfo_section_name``."""
    pnginfo = dict(existing_info or {})
    if info is not None:
        pnginfo[pnginfo_section_name] = info
    return pnginfo


def write_image_files(params: ImageSaveParams, pnginfo_section_name: str, settings: Any) -> tuple[str, str | None]:
    """Write ``params.image`` to ``params.filename`` (cut to the file system's name length, atomically) with
    its metadata, the downscaled ``.jpg`` copy and the ``.txt`` file the settings ask for; ``params.filename``
    becomes the name written.  Returns ``(image file, .txt file or None)``."""
    image = params.image
    info = params.pnginfo.get(pnginfo_section_name, None)

    def atomically_save(image_to_save: Image.Image, stem: str, ext: str) -> str:
        # a .tmp name first, so a program watching the folder never sees half a file
        temp_file_path = f"{stem}.tmp"
        save_image_with_geninfo(image_to_save, info, temp_file_path, ext, existing_pnginfo=params.pnginfo,
                                pnginfo_section_name=pnginfo_section_name, settings=settings)
        filename = stem + ext
        if _opt(settings, "save_images_replace_action") != "Replace":
            n = 0
            while os.path.exists(filename):
                n += 1
                filename = f"{stem}-{n}{ext}"
        os.replace(temp_file_path, filename)
        return filename

    stem, ext = os.path.splitext(params.filename)
    max_name = _max_name_length(os.path.dirname(stem) or ".")
    if max_name is not None:
        head, tail = os.path.split(stem)
        stem = os.path.join(head, tail[:max_name - max(4, len(ext))])
    params.filename = stem + ext

    fullfn = atomically_save(image, stem, ext)
    params.filename = fullfn
    stem = os.path.splitext(fullfn)[0]
    try:
        image.already_saved_as = fullfn  # the gallery uses this to avoid a temporary copy
    except AttributeError:
        pass

    _export_for_4chan(image, fullfn, stem, atomically_save, settings)

    txt_fullfn = None
    if _opt(settings, "save_txt") and info is not None:
        txt_fullfn = f"{stem}.txt"
        with open(txt_fullfn, "w", encoding="utf8") as file:
            file.write(f"{info}\n")
    return fullfn, txt_fullfn


def _export_for_4chan(image: Image.Image, fullfn: str, stem: str,
                      atomically_save: Callable[[Image.Image, str, str], str], settings: Any) -> None:
    """Also write a downscaled ``.jpg`` when the file or picture is too big (setting ``export_for_4chan``)."""
    target = _opt(settings, "target_side_length")
    oversize = image.width > target or image.height > target
    too_heavy = os.stat(fullfn).st_size > _opt(settings, "img_downscale_threshold") * 1024 * 1024
    if not _opt(settings, "export_for_4chan") or not (oversize or too_heavy):
        return

    ratio = image.width / image.height
    resize_to = None
    # a side is never scaled below one pixel (A1111 fails on a very thin picture)
    if oversize and ratio > 1:
        resize_to = round(target), max(1, round(image.height * target / image.width))
    elif oversize:
        resize_to = max(1, round(image.width * target / image.height)), round(target)

    if resize_to is not None:
        try:
            image = image.resize(resize_to, LANCZOS)
        except ValueError:  # modes such as I;16 have no LANCZOS
            image = image.resize(resize_to)
    try:
        atomically_save(image, stem, ".jpg")
    except (OSError, ValueError) as e:
        log.error("Error saving image as downscaled JPG: %s", e)


OUTDIR_TABS = ("txt2img", "img2img", "extras")


def output_dir(settings: Any, tab: str, grid: bool = False, data_dir: str | None = None) -> str:
    """The folder a tab saves into: ``outdir_samples``/``outdir_grids`` when set, else the tab's own.

    ``tab`` is ``txt2img``, ``img2img`` or ``extras`` (extras have no grids);
    a relative path is taken from ``data_dir`` when given.
    """
    if tab not in OUTDIR_TABS or (grid and tab == "extras"):
        raise ValueError(f"no output folder setting for {tab!r}{' grids' if grid else ''}")
    kind = "grids" if grid else "samples"
    path = getattr(settings, f"outdir_{kind}", "") or getattr(settings, f"outdir_{tab}_{kind}")
    return os.path.join(data_dir, path) if data_dir and not os.path.isabs(path) else path


def write_params_txt(path: str, infotext: str) -> None:
    """Write ``params.txt`` (the first picture's infotext of the last job, read by the paste button)."""
    with open(path, "w", encoding="utf8") as file:
        file.write(infotext)
