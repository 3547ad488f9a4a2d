"""Finding model files on disk (A1111's ``modelloader`` file helpers, without downloads).

The web UI works offline: where A1111 would download a model, this module
says which file to put where.
"""
from __future__ import annotations

import os
import re
import shutil
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence
from urllib.parse import urlparse

if TYPE_CHECKING:
    from modules.core.paths import DataPaths

_DIGITS = re.compile(r"([0-9]+)")


class ModelFileMissingError(FileNotFoundError):
    """A model file is not on disk and cannot be downloaded (the app works offline)."""

    def __init__(self, url: str, path: str) -> None:
        super().__init__(
            f"Model file {os.path.basename(path)} is missing and this web UI does not download files. "
            f"Download it yourself from {url} and put it at {path}"
        )
        self.url = url
        self.path = path


def natural_sort_key(text: str) -> list:
    """Sort key that orders ``a2`` before ``a10`` and ignores case (A1111's ``natural_sort_key``)."""
    return [int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(text)]


def _folders(path: str, list_hidden: bool) -> list[tuple[str, list[str]]]:
    """(folder, file names) for ``path`` and every folder below it, symlinks followed.

    A symlink back to one of its own parent folders is not entered, so link
    loops end; two links to the same folder are both listed, as in A1111.
    """
    result: list[tuple[str, list[str]]] = []
    stack = [(path, frozenset([os.path.realpath(path)]))]
    while stack:
        root, ancestors = stack.pop()
        try:
            entries = list(os.scandir(root))
        except OSError:
            continue  # unreadable folder: list what can be read
        files: list[str] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows symlinks
            except OSError:
                is_dir = False
            if not is_dir:
                files.append(entry.name)
                continue
            if not list_hidden and entry.name.startswith("."):
                continue
            real = os.path.realpath(entry.path)
            if real not in ancestors:
                stack.append((entry.path, ancestors | {real}))
        result.append((root, files))
    return result


def walk_files(path: str, allowed_extensions: Iterable[str] | None = None, list_hidden: bool = True) -> Iterator[str]:
    """Yield the files under ``path``, recursively, folders and files in natural order.

    Symlinked folders are followed, broken symlinks are skipped with a message,
    and ``.``-folders below ``path`` are left out unless ``list_hidden``.
    ``allowed_extensions`` (such as ``[".ckpt", ".safetensors"]``) is compared
    without regard to case.
    """
    if not os.path.isdir(path):
        return
    allowed = {ext.lower() for ext in allowed_extensions} if allowed_extensions is not None else None

    items = _folders(path, list_hidden)
    items.sort(key=lambda item: natural_sort_key(item[0]))
    for root, files in items:
        for filename in sorted(files, key=natural_sort_key):
            if allowed is not None and os.path.splitext(filename)[1].lower() not in allowed:
                continue
            full_path = os.path.join(root, filename)
            if os.path.islink(full_path) and not os.path.exists(full_path):
                print(f"Skipping broken symlink: {full_path}")
                continue
            yield full_path


def model_search_dirs(model_path: str, command_path: str | None = None) -> list[str]:
    """The folders A1111's ``load_models`` walks: the flag folder first, then ``model_path``.

    When the flag folder holds ``experiments/pretrained_models`` only that sub-folder is used.
    """
    places: list[str] = []
    if command_path is not None and os.path.abspath(command_path) != os.path.abspath(model_path):
        pretrained = os.path.join(command_path, "experiments", "pretrained_models")
        if os.path.exists(pretrained):
            places.append(pretrained)
        elif os.path.exists(command_path):
            places.append(command_path)
    places.append(model_path)
    return places


def list_model_files(model_dirs: Sequence[str], ext_filter: Iterable[str] | None = None,
                     ext_blacklist: Iterable[str] | None = None, list_hidden: bool = True) -> list[str]:
    """Every model file in ``model_dirs`` (walked in order), without duplicates.

    Files whose name ends with an ``ext_blacklist`` entry (``.vae.safetensors``
    when listing checkpoints) are left out.
    """
    ext_filter = list(ext_filter) if ext_filter is not None else None
    blacklist = tuple(x.lower() for x in ext_blacklist or ())
    output: list[str] = []
    seen: set[str] = set()
    for place in model_dirs:
        for full_path in walk_files(place, ext_filter, list_hidden=list_hidden):
            if blacklist and full_path.lower().endswith(blacklist):
                continue
            if full_path not in seen:
                seen.add(full_path)
                output.append(full_path)
    return output


def load_file_from_url(url: str, model_dir: str, file_name: str | None = None, *,
                       progress: bool = True, hash_prefix: str | None = None) -> str:
    """The local copy of ``url`` in ``model_dir`` (named ``file_name`` or after the URL).

    A1111 downloads a missing file here; this web UI never downloads, so a
    missing file raises :class:`ModelFileMissingError` saying where to put it.
    ``progress`` and ``hash_prefix`` are accepted for A1111 callers and unused.
    """
    os.makedirs(model_dir, exist_ok=True)  # so the user finds the folder the message names
    if not file_name:
        file_name = os.path.basename(urlparse(url).path)
    local = os.path.abspath(os.path.join(model_dir, file_name))
    if not os.path.exists(local):
        raise ModelFileMissingError(url, local)
    return local


def friendly_name(file: str) -> str:
    """A model's display name from its path or URL: the file name without extension."""
    if file.startswith("http"):
        file = urlparse(file).path
    return os.path.splitext(os.path.basename(file))[0]


def _move_files(src_dir: str, dest_dir: str, extensions: tuple[str, ...] | None = None,
                remove_empty_src: bool = True) -> list[tuple[str, str]]:
    """Move the files (not folders) of ``src_dir`` into ``dest_dir``; existing destinations are kept."""
    if not os.path.isdir(src_dir) or os.path.realpath(src_dir) == os.path.realpath(dest_dir):
        return []
    moved: list[tuple[str, str]] = []
    for name in sorted(os.listdir(src_dir), key=natural_sort_key):
        source = os.path.join(src_dir, name)
        if not os.path.isfile(source):
            continue
        if extensions is not None and not name.lower().endswith(extensions):
            continue
        target = os.path.join(dest_dir, name)
        if os.path.lexists(target):
            print(f"Not moving {name} from {src_dir}: {target} already exists.")
            continue
        print(f"Moving {name} from {src_dir} to {dest_dir}.")
        try:
            os.makedirs(dest_dir, exist_ok=True)
            shutil.move(source, target)
        except OSError as e:
            print(f"Could not move {source} to {dest_dir}: {e}")
            continue
        moved.append((source, target))
    if remove_empty_src and not os.listdir(src_dir):
        print(f"Removing empty folder: {src_dir}")
        try:
            os.rmdir(src_dir)
        except OSError:
            pass  # something appeared meanwhile, or no permission: leaving it is harmless
    return moved


def cleanup_models(paths: "DataPaths") -> list[tuple[str, str]]:
    """Move model files from A1111's old locations into ``models/`` (A1111's ``cleanup_models``).

    Checkpoints at the top of the models folder go to ``Stable-diffusion``;
    ``<install>/ESRGAN``, ``models/BSRGAN/*.pth``, ``<install>/gfpgan``,
    ``<install>/SwinIR`` and LDSR's old folder to their ``models/`` folders.
    Existing files are never overwritten.  Returns the (source, destination) pairs moved.
    """
    install, models = paths.install_dir, paths.models_dir
    moves = [
        (models, paths.sd_models_dir, (".ckpt", ".safetensors"), False),
        (os.path.join(install, "ESRGAN"), paths.model_dir("ESRGAN"), None, True),
        (paths.model_dir("BSRGAN"), paths.model_dir("ESRGAN"), (".pth",), True),
        (os.path.join(install, "gfpgan"), paths.model_dir("GFPGAN"), None, True),
        (os.path.join(install, "SwinIR"), paths.model_dir("SwinIR"), None, True),
        (os.path.join(install, "repositories", "latent-diffusion", "experiments", "pretrained_models"),
         paths.model_dir("LDSR"), None, True),
    ]
    moved: list[tuple[str, str]] = []
    for src, dest, extensions, remove_empty in moves:
        moved += _move_files(src, dest, extensions, remove_empty_src=remove_empty)
    return moved
