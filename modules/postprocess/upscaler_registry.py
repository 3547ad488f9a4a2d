"""The upscaler list, built as A1111's ``load_upscalers`` builds it.

Every subclass of :class:`Upscaler` known when the registry refreshes (the
built-in ones and those defined by extension scripts) is instantiated with the
value of its ``--<family>-models-path`` flag; their entries are listed with
None, Lanczos and Nearest first and the rest sorted case-insensitively.
"""
from __future__ import annotations

import argparse
from typing import Iterable

from modules.postprocess import model_upscalers
from modules.postprocess.upscaler import Upscaler, UpscalerData, UpscalerLanczos, UpscalerNearest, UpscalerNone

LATENT_UPSCALE_MODES: dict[str, dict] = {
    "Latent": {"mode": "bilinear", "antialias": False},
    "Latent (antialiased)": {"mode": "bilinear", "antialias": True},
    "Latent (bicubic)": {"mode": "bicubic", "antialias": False},
    "Latent (bicubic antialiased)": {"mode": "bicubic", "antialias": True},
    "Latent (nearest)": {"mode": "nearest", "antialias": False},
    "Latent (nearest-exact)": {"mode": "nearest-exact", "antialias": False},
}
"""Hires-fix latent upscale modes (A1111's ``shared.latent_upscale_modes``), in A1111's order."""

_BUILTIN_FIRST = (UpscalerNone, UpscalerLanczos, UpscalerNearest)
_BUILTIN_FAMILIES = (model_upscalers.UpscalerESRGAN, model_upscalers.UpscalerRealESRGAN, model_upscalers.UpscalerDAT,
                     model_upscalers.UpscalerHAT, model_upscalers.UpscalerSwinIR, model_upscalers.UpscalerScuNET)


def _all_subclasses(cls: type) -> list[type]:
    found: list[type] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def _concrete_upscaler_classes() -> list[type]:
    """Built-ins first, then subclasses from extensions; private bases (``_Name``) skipped; one per class name."""
    ordered: dict[str, type] = {}
    for cls in [*_BUILTIN_FIRST, *_BUILTIN_FAMILIES, *_all_subclasses(Upscaler)]:
        if cls.__name__.startswith("_"):
            continue
        ordered.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
    return list(ordered.values())


def flag_for_upscaler_class(cls: type) -> str:
    """A1111's rule: ``UpscalerESRGAN`` reads ``--esrgan-models-path`` (``esrgan_models_path``)."""
    return f"{cls.__name__.lower().replace('upscaler', '')}_models_path"


def sort_upscalers(datas: Iterable[UpscalerData]) -> list[UpscalerData]:
    """None, Lanczos, Nearest first (in that order), then the rest by lower-case name."""
    return sorted(datas, key=lambda d: "" if isinstance(d.scaler, _BUILTIN_FIRST) else d.name.lower())


class UpscalerRegistry:
    """The upscalers of the running app (``shared.upscalers``; ``shared.sd_upscalers`` is its list)."""

    def __init__(self, cmd_opts: argparse.Namespace) -> None:
        self.cmd_opts = cmd_opts
        self.upscalers: list[UpscalerData] = []
        self.errors: list[str] = []

    def refresh(self) -> list[UpscalerData]:
        """Instantiate every upscaler class and list their entries; a failing class is reported, not fatal."""
        flags = vars(self.cmd_opts)
        datas: list[UpscalerData] = []
        self.errors = []
        for cls in _concrete_upscaler_classes():
            dirname = flags.get(flag_for_upscaler_class(cls))
            try:
                scaler = cls(dirname)
            except Exception as e:  # an extension's broken upscaler must not stop start-up
                message = f"Error loading upscaler {cls.__name__} ({cls.__module__}): {e}"
                self.errors.append(message)
                print(message, flush=True)
                continue
            scaler.user_path = dirname
            scaler.model_download_path = dirname or scaler.model_path
            datas.extend(scaler.scalers)
        self.upscalers = sort_upscalers(datas)
        return self.upscalers

    def find(self, name: str) -> UpscalerData | None:
        """The entry named ``name`` (case-sensitive, as A1111 matches names)."""
        return next((u for u in self.upscalers if u.name == name), None)

    def names(self) -> list[str]:
        return [u.name for u in self.upscalers]

    def as_api_list(self) -> list[dict]:
        """``/sdapi/v1/upscalers`` items with A1111's fields."""
        return [
            {
                "name": u.name,
                "model_name": u.scaler.model_name if u.scaler is not None else None,
                "model_path": u.data_path,
                "model_url": None,
                "scale": float(u.scale),
            }
            for u in self.upscalers
        ]
