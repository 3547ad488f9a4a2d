"""The model-based upscaler families that ship with A1111: ESRGAN, Real-ESRGAN, DAT and HAT.

Each family lists A1111's named entries and the files in its folder; running
one loads the file through spandrel (architecture detected from the weights,
a family mismatch only warns) and upscales in tiles (:mod:`tiling`).  Nothing
is downloaded: a named entry whose file is not on disk raises
:class:`UpscalerUnavailable` naming the file and the folder to put it in.
"""
from __future__ import annotations

import os
import re
from typing import Any

from PIL import Image

from modules.core.services import current_services
from modules.postprocess.tiling import upscale_with_model
from modules.postprocess.unavailable import UpscalerUnavailable
from modules.postprocess.upscaler import Upscaler, UpscalerData

MODEL_EXTENSIONS = [".pt", ".pth", ".safetensors"]

# A1111's built-in entries: (name, download URL, scale).  The URL is only shown
# (A1111 reports it as model_path) and used to name the file the user must provide.
ESRGAN_BUILTIN = [("ESRGAN_4x", "https://github.com/cszn/KAIR/releases/download/v1.0/ESRGAN.pth", 4)]
ESRGAN_BUILTIN_FILE = "ESRGAN_4x.pth"
"""A1111 saves the ESRGAN_4x download under this name (not the URL's)."""
REALESRGAN_BUILTIN = [
    ("R-ESRGAN General 4xV3", "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.5.0/realesr-general-x4v3.pth", 4),
    ("R-ESRGAN General WDN 4xV3", "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.5.0/realesr-general-wdn-x4v3.pth", 4),
    ("R-ESRGAN AnimeVideo", "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.5.0/realesr-animevideov3.pth", 4),
    ("R-ESRGAN 4x+", "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth", 4),
    ("R-ESRGAN 4x+ Anime6B", "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth", 4),
    ("R-ESRGAN 2x+", "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.1/RealESRGAN_x2plus.pth", 2),
]
DAT_BUILTIN = [
    ("DAT x2", "https://github.com/n0kovo/dat_upscaler_models/raw/main/DAT/DAT_x2.pth", 2),
    ("DAT x3", "https://github.com/n0kovo/dat_upscaler_models/raw/main/DAT/DAT_x3.pth", 3),
    ("DAT x4", "https://github.com/n0kovo/dat_upscaler_models/raw/main/DAT/DAT_x4.pth", 4),
]


def scale_from_name(name: str, default: float = 4) -> float:
    """``4x-UltraSharp`` -> 4, ``RealESRGAN_x2plus`` -> 2: the digit beside an ``x``, else ``default``."""
    match = re.search(r"(?:^|[^a-z0-9])(\d)x|x(\d)(?:[^0-9]|$)", name.lower())
    if match:
        return float(match.group(1) or match.group(2))
    return default


def local_file_for_url(folder: str | None, url: str) -> str | None:
    """The file in ``folder`` whose name is the URL's file name, when present (A1111 uses a local copy)."""
    if not folder:
        return None
    candidate = os.path.join(folder, os.path.basename(url))
    return candidate if os.path.isfile(candidate) else None


def _interrupted() -> bool:
    state = current_services().state
    return bool(state is not None and (getattr(state, "interrupted", False) or getattr(state, "skipped", False)))


class _ModelFamily(Upscaler):
    """A family listing its built-in entries and the files in its folder, run through spandrel."""

    builtin: list[tuple[str, str, float]] = []
    enabled_setting: str | None = None
    expected_architecture: str | None = None
    tile_setting = "ESRGAN_tile"
    tile_overlap_setting = "ESRGAN_tile_overlap"
    device_task = "esrgan"

    def __init__(self, dirname: str | None = None) -> None:
        self.user_path = dirname
        super().__init__(False)
        self.scalers = self._list_scalers()

    def _enabled_builtin(self) -> list[tuple[str, str, float]]:
        if self.enabled_setting is None:
            return list(self.builtin)
        enabled = self._opt(self.enabled_setting, None)
        if enabled is None:
            return list(self.builtin)
        return [entry for entry in self.builtin if entry[0] in enabled]

    def _list_scalers(self) -> list[UpscalerData]:
        scalers: list[UpscalerData] = []
        builtin_files: set[str] = set()
        for name, url, scale in self._enabled_builtin():
            local = local_file_for_url(self.model_path, url) or local_file_for_url(self.user_path, url)
            if local:
                builtin_files.add(os.path.abspath(local))
            data = UpscalerData(name, local or url, self, scale)
            scalers.append(data)
        for path in self.find_models(ext_filter=MODEL_EXTENSIONS):
            if os.path.abspath(path) in builtin_files:
                continue
            stem = os.path.splitext(os.path.basename(path))[0]
            scalers.append(UpscalerData(stem, path, self, scale_from_name(stem)))
        return scalers

    def _download_folder(self) -> str | None:
        return self.model_download_path or self.user_path or self.model_path

    def builtin_file_name(self, url: str) -> str:
        """The file a named entry is read from: the URL's file name."""
        return os.path.basename(url)

    def resolve_path(self, path: str) -> str:
        """The model file behind an entry; a named entry's file is looked up again (it may have been added since)."""
        if not path:
            raise UpscalerUnavailable(f"{self.name}: no model selected")
        if not path.startswith(("http://", "https://")):
            return path
        file_name = self.builtin_file_name(path)
        for folder in (self.user_path, self.model_path):
            if folder and os.path.isfile(os.path.join(folder, file_name)):
                return os.path.join(folder, file_name)
        raise UpscalerUnavailable(
            f"{self.name}: model file {file_name} is not on disk and nothing is downloaded; "
            f"put it in {self._download_folder()}"
        )

    def load_model(self, path: str) -> Any:
        """The spandrel model of ``path`` (loaded once; on the ``--use-cpu``-aware device; fp16 where allowed)."""
        from modules.postprocess import spandrel_loader  # torch on first use: upscalers are listed at start-up

        return spandrel_loader.load_spandrel_model(
            self.resolve_path(path), device=spandrel_loader.default_device(self.device_task),
            prefer_half=spandrel_loader.half_allowed(), expected_architecture=self.expected_architecture)

    def do_upscale(self, img: Image.Image, selected_model: str | None) -> Image.Image:
        model = self.load_model(selected_model or "")
        return upscale_with_model(model, img, tile_size=int(self._opt(self.tile_setting, 192)),
                                  tile_overlap=int(self._opt(self.tile_overlap_setting, 8)), interrupted=_interrupted)


class UpscalerESRGAN(_ModelFamily):
    """ESRGAN models from ``models/ESRGAN`` (``--esrgan-models-path``)."""

    name = "ESRGAN"
    builtin = ESRGAN_BUILTIN
    expected_architecture = "ESRGAN"

    def builtin_file_name(self, url: str) -> str:
        return ESRGAN_BUILTIN_FILE

    def _list_scalers(self) -> list[UpscalerData]:
        self.model_name = "ESRGAN_4x"  # A1111 reports this model_name for every ESRGAN entry
        scalers = super()._list_scalers()
        local = [s for s in scalers if s.name != "ESRGAN_4x"]
        # A1111 offers the downloadable ESRGAN_4x only when the folder has no model of its own.
        return local or scalers


class UpscalerRealESRGAN(_ModelFamily):
    """Real-ESRGAN models: A1111's six named ones (those enabled in settings) and local files."""

    name = "RealESRGAN"
    builtin = REALESRGAN_BUILTIN
    enabled_setting = "realesrgan_enabled_models"
    expected_architecture = "ESRGAN"

    def _list_scalers(self) -> list[UpscalerData]:
        # A1111 lists only its named models here; a local file counts when its name matches one.
        scalers = []
        for name, url, scale in self._enabled_builtin():
            local = local_file_for_url(self.model_path, url) or local_file_for_url(self.user_path, url)
            scalers.append(UpscalerData(name, local or url, self, scale))
        return scalers


class UpscalerDAT(_ModelFamily):
    """DAT models: local files plus ``DAT x2/x3/x4`` (setting ``dat_enabled_models``)."""

    name = "DAT"
    builtin = DAT_BUILTIN
    enabled_setting = "dat_enabled_models"
    expected_architecture = "DAT"
    tile_setting = "DAT_tile"
    tile_overlap_setting = "DAT_tile_overlap"

    def _list_scalers(self) -> list[UpscalerData]:
        scalers = super()._list_scalers()
        builtin_names = {name for name, _, _ in DAT_BUILTIN}
        # A1111 lists local DAT files first, then the named ones
        return [s for s in scalers if s.name not in builtin_names] + [s for s in scalers if s.name in builtin_names]


class UpscalerHAT(_ModelFamily):
    """HAT models: only the files in ``models/HAT`` (taken as 4x, as A1111 does); ESRGAN tile settings."""

    name = "HAT"
    expected_architecture = "HAT"

    def _list_scalers(self) -> list[UpscalerData]:
        return [UpscalerData(os.path.splitext(os.path.basename(p))[0], p, self, 4)
                for p in self.find_models(ext_filter=MODEL_EXTENSIONS)]


SWINIR_BUILTIN = [("SwinIR 4x", "https://github.com/JingyunLiang/SwinIR/releases/download/v0.0/"
                                 "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth", 4)]
SCUNET_BUILTIN = [
    ("ScuNET GAN", "https://github.com/cszn/KAIR/releases/download/v1.0/scunet_color_real_gan.pth", 4),
    ("ScuNET PSNR", "https://github.com/cszn/KAIR/releases/download/v1.0/scunet_color_real_psnr.pth", 4),
]


class UpscalerSwinIR(_ModelFamily):
    """SwinIR models from ``models/SwinIR`` and A1111's ``SwinIR 4x``; settings ``SWIN_tile`` / ``SWIN_tile_overlap``.

    A1111 ships these as the built-in extension SwinIR; here the family is part of the core list.
    """

    name = "SwinIR"
    builtin = SWINIR_BUILTIN
    expected_architecture = "SwinIR"
    tile_setting = "SWIN_tile"
    tile_overlap_setting = "SWIN_tile_overlap"

    def _list_scalers(self) -> list[UpscalerData]:
        self.model_name = "SwinIR 4x"  # A1111 reports this model_name for every SwinIR entry
        return super()._list_scalers()


class UpscalerScuNET(_ModelFamily):
    """ScuNET denoisers from ``models/ScuNET`` and A1111's ``ScuNET GAN`` / ``ScuNET PSNR``
    (``SCUNET_tile`` / ``SCUNET_tile_overlap``); A1111 reports them as 4x and as model ``ScuNET GAN``."""

    name = "ScuNET"
    builtin = SCUNET_BUILTIN
    expected_architecture = "SCUNet"
    tile_setting = "SCUNET_tile"
    tile_overlap_setting = "SCUNET_tile_overlap"

    def _list_scalers(self) -> list[UpscalerData]:
        self.model_name = "ScuNET GAN"
        return super()._list_scalers()


def realesrgan_models_api_list(enabled_only: bool = False, enabled: list[str] | None = None) -> list[dict]:
    """``/sdapi/v1/realesrgan-models`` items: every named Real-ESRGAN model (A1111 lists all six)."""
    return [{"name": name, "path": url, "scale": int(scale)} for name, url, scale in REALESRGAN_BUILTIN
            if not enabled_only or (enabled is not None and name in enabled)]
