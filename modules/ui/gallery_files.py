"""Pictures between the processing layer and the browser's galleries.

Gallery pictures are handed to gradio as PNG files that keep their infotext
(``parameters`` chunk), so a picture dragged out of a gallery, or sent to another
tab, still carries its generation parameters -- as in A1111, where gallery files
are PNGs written with their infotext.  The files go to the folder of setting
``temp_dir`` (empty: the system's temporary folder, which gradio serves from).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from PIL import Image, PngImagePlugin

from modules.core.processes import process_alive
from modules.core.services import current_services


DEFAULT_FOLDER_NAME = "webui-gallery"


def _default_root() -> str:
    return os.path.join(tempfile.gettempdir(), DEFAULT_FOLDER_NAME)


def temp_folder() -> str:
    """Where gallery copies are written: setting ``temp_dir``, else a folder of this process under
    ``<system temp>/webui-gallery`` (removed by the next start once this process has ended)."""
    services = current_services()
    configured = getattr(services.opts, "temp_dir", "") if services.opts is not None else ""
    folder = configured or os.path.join(_default_root(), str(os.getpid()))
    os.makedirs(folder, exist_ok=True)
    return folder


def cleanup_at_start() -> list[str]:
    """Remove the gallery copies nobody can show any more; returns what was removed.

    The default folder holds one sub-folder per server process: those of ended
    processes go (other servers on this machine keep theirs).  A folder set in
    ``temp_dir`` is the user's: its PNG files go only when
    ``clean_temp_dir_at_start`` is on, as in A1111.
    """
    services = current_services()
    removed: list[str] = []
    root = _default_root()
    if os.path.isdir(root):
        for name in os.listdir(root):
            path = os.path.join(root, name)
            if name.isdigit() and int(name) != os.getpid() and not process_alive(int(name)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    configured = getattr(services.opts, "temp_dir", "") if services.opts is not None else ""
    if configured and getattr(services.opts, "clean_temp_dir_at_start", False) and os.path.isdir(configured):
        for folder, _dirs, files in os.walk(configured):
            for name in files:
                if name.lower().endswith(".png"):
                    path = os.path.join(folder, name)
                    os.remove(path)
                    removed.append(path)
    return removed


def to_gallery_file(image: Image.Image) -> str:
    """A PNG copy of ``image`` with its infotext, for a gallery; returns the path."""
    pnginfo = PngImagePlugin.PngInfo()
    for key, value in (image.info or {}).items():
        if isinstance(key, str) and isinstance(value, str):
            pnginfo.add_text(key, value)
    fd, path = tempfile.mkstemp(prefix="image-", suffix=".png", dir=temp_folder())
    with os.fdopen(fd, "wb") as f:
        image.save(f, format="PNG", pnginfo=pnginfo)
    return path


def gallery_value(images: list[Any]) -> list[str]:
    """What a gallery output gets for ``images`` (PIL pictures or paths)."""
    return [to_gallery_file(x) if isinstance(x, Image.Image) else x for x in images]


def item_path(item: Any) -> str | None:
    """The file of one gallery entry as gradio hands it to a function (``(path, caption)``, a dict or a path)."""
    if isinstance(item, (tuple, list)) and item:
        item = item[0]
    if isinstance(item, dict):
        image = item.get("image")
        item = image.get("path") if isinstance(image, dict) else item.get("path")
    if isinstance(item, Image.Image):
        return None
    return str(item) if item else None


def item_image(item: Any) -> Image.Image | None:
    """One gallery entry as a PIL picture (its infotext kept in ``.info``), or None."""
    if isinstance(item, (tuple, list)) and item and isinstance(item[0], Image.Image):
        return item[0]
    if isinstance(item, Image.Image):
        return item
    path = item_path(item)
    if not path or not os.path.isfile(path):
        return None
    image = Image.open(path)
    image.load()
    return image


def selected_item(gallery: list | None, index: Any) -> Any:
    """The gallery entry at ``index`` (the first when nothing valid is selected), or None for an empty gallery."""
    if not gallery:
        return None
    try:
        i = int(index)
    except (TypeError, ValueError):
        i = 0
    return gallery[i] if 0 <= i < len(gallery) else gallery[0]
