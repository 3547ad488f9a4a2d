"""Where the app's files live: the install root, the data dir and every folder under it.

A1111 computes these at import time from a second parse of ``sys.argv``.  Here
they are computed once by the bootstrap (:func:`resolve_paths`) from the parsed
flags, and the compatibility modules ``modules.paths`` / ``modules.paths_internal``
read the live result.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field

from modules.core.cmd_args import build_parser
from modules.core.services import current_services
from modules.core.install_dir import INSTALL_DIR  # noqa: F401  (imported from here by many)

MODEL_SUBDIRS = (
    "Stable-diffusion", "VAE", "Lora", "LyCORIS", "hypernetworks", "ESRGAN", "RealESRGAN", "DAT", "HAT",
    "SwinIR", "ScuNET", "LDSR", "GFPGAN", "Codeformer", "BLIP", "CLIP", "VAE-approx", "VAE-taesd",
)
"""The ``models/`` sub-folders users drop files into (SPEC 0)."""

# flag name -> path relative to the models dir (None when the flag is relative to the data dir)
_MODEL_DIR_FLAGS = {
    "hypernetwork_dir": "hypernetworks",
    "codeformer_models_path": "Codeformer",
    "gfpgan_models_path": "GFPGAN",
    "esrgan_models_path": "ESRGAN",
    "bsrgan_models_path": "BSRGAN",
    "realesrgan_models_path": "RealESRGAN",
    "dat_models_path": "DAT",
}


@dataclass(frozen=True)
class DataPaths:
    """Every folder and file the app reads or writes, after flags are applied."""

    install_dir: str
    data_dir: str
    models_dir: str
    config_file: str
    ui_config_file: str
    embeddings_dir: str
    extensions_dir: str
    extensions_builtin_dir: str
    outputs_dir: str
    cache_dir: str
    tmp_dir: str
    sd_models_dir: str
    ckpt_dir: str | None
    vae_dir: str | None
    styles_files: tuple[str, ...] = field(default_factory=tuple)

    def model_dir(self, name: str) -> str:
        """``models/<name>`` under the models dir (``name`` as in :data:`MODEL_SUBDIRS`)."""
        return os.path.join(self.models_dir, name)

    def data_file(self, *parts: str) -> str:
        """A path relative to the data dir (how option paths such as ``outputs/...`` are read)."""
        return os.path.join(self.data_dir, *parts)

    def resolve_data_path(self, path: str) -> str:
        """An option value such as ``outputs/txt2img-images`` made absolute under the data dir."""
        return path if os.path.isabs(path) else os.path.join(self.data_dir, path)


def _absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def resolve_path_flags(cmd_opts: argparse.Namespace, install_dir: str = INSTALL_DIR) -> DataPaths:
    """Fill the data-dir-relative path flags on ``cmd_opts`` and return the resulting paths.

    After this, ``cmd_opts`` shows the same resolved values A1111's ``cmd-flags``
    route shows (``embeddings_dir`` = ``<data-dir>/embeddings`` and so on).
    """
    data_dir = _absolute(cmd_opts.data_dir) if cmd_opts.data_dir else install_dir
    cmd_opts.data_dir = data_dir
    models_dir = _absolute(cmd_opts.models_dir) if cmd_opts.models_dir else os.path.join(data_dir, "models")

    for flag, sub in _MODEL_DIR_FLAGS.items():
        if getattr(cmd_opts, flag, None) is None:
            setattr(cmd_opts, flag, os.path.join(models_dir, sub))
    if cmd_opts.embeddings_dir is None:
        cmd_opts.embeddings_dir = os.path.join(data_dir, "embeddings")
    if cmd_opts.ui_config_file is None:
        cmd_opts.ui_config_file = os.path.join(data_dir, "ui-config.json")
    if cmd_opts.ui_settings_file is None:
        cmd_opts.ui_settings_file = os.path.join(data_dir, "config.json")
    if cmd_opts.styles_file is None:
        cmd_opts.styles_file = [os.path.join(data_dir, "styles.csv")]
    if cmd_opts.gradio_allowed_path is None:
        cmd_opts.gradio_allowed_path = [data_dir]
    # flags added by built-in extensions' preload.py files, when present
    for flag, sub in (("lora_dir", "Lora"), ("lyco_dir_backcompat", "LyCORIS"), ("ldsr_models_path", "LDSR"),
                      ("scunet_models_path", "ScuNET"), ("swinir_models_path", "SwinIR")):
        if hasattr(cmd_opts, flag) and getattr(cmd_opts, flag) is None:
            setattr(cmd_opts, flag, os.path.join(models_dir, sub))

    return DataPaths(
        install_dir=install_dir,
        data_dir=data_dir,
        models_dir=models_dir,
        config_file=_absolute(cmd_opts.ui_settings_file),
        ui_config_file=_absolute(cmd_opts.ui_config_file),
        embeddings_dir=_absolute(cmd_opts.embeddings_dir),
        extensions_dir=os.path.join(data_dir, "extensions"),
        extensions_builtin_dir=os.path.join(install_dir, "extensions-builtin"),
        outputs_dir=os.path.join(data_dir, "outputs"),
        cache_dir=os.environ.get("SD_WEBUI_CACHE_DIR") or os.path.join(data_dir, "cache"),
        tmp_dir=os.path.join(data_dir, "tmp"),
        sd_models_dir=os.path.join(models_dir, "Stable-diffusion"),
        ckpt_dir=_absolute(cmd_opts.ckpt_dir) if cmd_opts.ckpt_dir else None,
        vae_dir=_absolute(cmd_opts.vae_dir) if cmd_opts.vae_dir else None,
        styles_files=tuple(cmd_opts.styles_file),
    )


def default_paths(install_dir: str = INSTALL_DIR) -> DataPaths:
    """The paths with no flags given: everything under the install root."""
    return resolve_path_flags(build_parser().parse_args([]), install_dir)


def live_paths() -> DataPaths:
    """The paths of the running app (the installed services'), or the defaults before start-up."""
    paths = current_services().paths
    return paths if paths is not None else default_paths()


def ensure_user_folders(paths: DataPaths) -> None:
    """Create the folders users drop files into, so they can find them."""
    for sub in MODEL_SUBDIRS:
        os.makedirs(paths.model_dir(sub), exist_ok=True)
    os.makedirs(paths.embeddings_dir, exist_ok=True)
    os.makedirs(paths.extensions_dir, exist_ok=True)
