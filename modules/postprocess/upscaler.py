"""The upscaler extension point (A1111's ``modules.upscaler``).

An upscaler family is a subclass of :class:`Upscaler`; each model it offers is
an :class:`UpscalerData` in its ``scalers`` list.  The registry
(:mod:`modules.postprocess.upscaler_registry`) instantiates every subclass it
finds, built-in or from an extension, exactly as A1111 does.
"""
from __future__ import annotations

import os
from abc import abstractmethod
from typing import Any

from PIL import Image

from modules.core.limits import MAX_WORK_PIXELS
from modules.core.paths import live_paths
from modules.core.services import current_services
from modules.models.model_files import list_model_files
from modules.postprocess.unavailable import UpscalerUnavailable  # noqa: F401  (imported from here by many)

LANCZOS = Image.Resampling.LANCZOS
NEAREST = Image.Resampling.NEAREST

MAX_MODEL_PASSES = 3
"""A model is applied at most this many times to reach the requested scale (A1111)."""


class Upscaler:
    """An upscaler family (ESRGAN, Real-ESRGAN, ...).  Subclasses set ``name`` and fill ``scalers``.

    Constructed by the registry as ``cls(dirname)`` where ``dirname`` is the value of the
    ``--<family>-models-path`` flag (or ``None``).  Override :meth:`do_upscale` and
    :meth:`load_model`.
    """

    name: str | None = None
    model_path: str | None = None
    model_name: str | None = None
    model_url: str | None = None
    enable = True
    filter = None
    model = None
    user_path: str | None = None
    scalers: list["UpscalerData"]
    tile = True

    def __init__(self, create_dirs: bool = False) -> None:
        self.mod_pad_h = None
        self.tile_size = self._opt("ESRGAN_tile", 192)
        self.tile_pad = self._opt("ESRGAN_tile_overlap", 8)
        self.device = "cpu"
        self.img = None
        self.output = None
        self.scale = 1.0
        self.half = False
        self.pre_pad = 0
        self.mod_scale = None
        self.model_download_path = None
        if not hasattr(self, "scalers"):
            self.scalers = []
        if self.model_path is None and self.name:
            self.model_path = _models_dir(self.name)
        if self.model_path and create_dirs:
            os.makedirs(self.model_path, exist_ok=True)

    @staticmethod
    def _opt(key: str, default: Any) -> Any:
        opts = current_services().opts
        return getattr(opts, key, default) if opts is not None else default

    def upscale(self, img: Image.Image, scale: float, selected_model: str | None = None) -> Image.Image:
        """Upscale ``img`` by ``scale``: the model is applied up to 3 times, then Lanczos gives the exact size.

        The target is rounded down to a multiple of 8 as in A1111.
        """
        self.scale = scale
        dest_w = int((img.width * scale) // 8 * 8)
        dest_h = int((img.height * scale) // 8 * 8)
        for i in range(MAX_MODEL_PASSES):
            # at scale 1 the model still runs once (a 1x restoration model, or a 4x one then sized back)
            if img.width >= dest_w and img.height >= dest_h and (i > 0 or scale != 1):
                break
            if _interrupted():
                break
            model_scale = self._model_scale(selected_model)
            if img.width * img.height * model_scale * model_scale > MAX_WORK_PIXELS:
                break  # the pass would overshoot far past the target (a 4000x4000 picture x1.01 -> 16000x16000)
            shape = (img.width, img.height)
            img = self.do_upscale(img, selected_model)
            if shape == (img.width, img.height):
                break
        if (img.width, img.height) != (dest_w, dest_h):
            img = img.resize((dest_w, dest_h), resample=LANCZOS)
        return img

    def _model_scale(self, selected_model: str | None) -> float:
        """How much one pass of the model enlarges (its entry's ``scale``; 4, A1111's usual, when unknown)."""
        if selected_model is None:  # a resampler (Lanczos, Nearest) enlarges by exactly the requested scale
            return max(float(self.scale), 1.0)
        for data in getattr(self, "scalers", None) or []:
            if data.data_path == selected_model and data.scale:
                return float(data.scale)
        return 4.0

    @abstractmethod
    def do_upscale(self, img: Image.Image, selected_model: str | None) -> Image.Image:
        """One pass of the model over ``img``."""
        return img

    def load_model(self, path: str) -> Any:
        """Load the model behind one of this family's ``UpscalerData``."""
        raise UpscalerUnavailable(f"{self.name}: loading models is not supported by this upscaler")

    def find_models(self, ext_filter: list[str] | None = None) -> list[str]:
        """Model files in this family's folder and its ``--*-models-path`` folder."""
        dirs = [d for d in (self.model_path, self.user_path) if d]
        return list_model_files(dirs, ext_filter=ext_filter, ext_blacklist=None)

    def update_status(self, prompt: str) -> None:
        print(f"\nextras: {prompt}", flush=True)


class UpscalerData:
    """One entry of the upscaler list: what ``/sdapi/v1/upscalers`` shows and the hires-fix dropdown offers."""

    name: str
    data_path: str | None
    scale: float = 4
    scaler: Upscaler | None = None
    model: Any = None

    def __init__(self, name: str, path: str | None, upscaler: Upscaler | None = None, scale: float = 4,
                 model: Any = None, sha256: str | None = None) -> None:
        self.name = name
        self.data_path = path
        self.local_data_path = path
        self.scaler = upscaler
        self.scale = scale
        self.model = model
        self.sha256 = sha256

    def __repr__(self) -> str:
        return f"<UpscalerData name={self.name} path={self.data_path} scale={self.scale}>"


class UpscalerNone(Upscaler):
    """The "None" entry: returns the image unchanged."""

    name = "None"

    def __init__(self, dirname: str | None = None) -> None:
        super().__init__(False)
        self.scalers = [UpscalerData("None", None, self)]

    def load_model(self, path: str) -> None:
        return None

    def do_upscale(self, img: Image.Image, selected_model: str | None = None) -> Image.Image:
        return img


class UpscalerLanczos(Upscaler):
    """Lanczos resampling (Pillow)."""

    name = "Lanczos"

    def __init__(self, dirname: str | None = None) -> None:
        super().__init__(False)
        self.scalers = [UpscalerData("Lanczos", None, self)]

    def do_upscale(self, img: Image.Image, selected_model: str | None = None) -> Image.Image:
        return img.resize((int(img.width * self.scale), int(img.height * self.scale)), resample=LANCZOS)

    def load_model(self, path: str) -> None:
        return None


class UpscalerNearest(Upscaler):
    """Nearest-neighbour resampling (Pillow)."""

    name = "Nearest"

    def __init__(self, dirname: str | None = None) -> None:
        super().__init__(False)
        self.scalers = [UpscalerData("Nearest", None, self)]

    def do_upscale(self, img: Image.Image, selected_model: str | None = None) -> Image.Image:
        return img.resize((int(img.width * self.scale), int(img.height * self.scale)), resample=NEAREST)

    def load_model(self, path: str) -> None:
        return None


def _interrupted() -> bool:
    state = current_services().state
    return bool(state is not None and getattr(state, "interrupted", False))


def _models_dir(name: str) -> str:
    return live_paths().model_dir(name)
