"""The face restorer extension point and the registry of restorers (CodeFormer, GFPGAN).

A restorer is a subclass of :class:`FaceRestoration` registered in the
registry.  The built-in entries find their model files in ``models/Codeformer``
and ``models/GFPGAN`` (never downloaded); running them comes with the
postprocessing layer, and until then :meth:`restore` says so clearly.
"""
from __future__ import annotations

import os
from typing import Any

from modules.postprocess.upscaler import UpscalerUnavailable


class FaceRestoration:
    """A face restorer.  Override :meth:`name` and :meth:`restore` (numpy HxWx3 uint8 RGB in and out)."""

    def name(self) -> str:
        return "None"

    def restore(self, np_image: Any) -> Any:
        return np_image


class FaceRestorationUnavailable(UpscalerUnavailable):
    """The restorer's model is missing or cannot run yet; the message says what to do."""


class ModelFolderRestorer(FaceRestoration):
    """A built-in restorer whose weights live in a models folder."""

    display_name = ""
    expected_file = ""
    name_must_contain = ""

    def __init__(self, model_dirs: list[str]) -> None:
        self.model_dirs = [d for d in model_dirs if d]
        self.cmd_dir = None  # A1111's field, reported by /sdapi/v1/face-restorers

    def name(self) -> str:
        return self.display_name

    def model_files(self) -> list[str]:
        """The weight files found for this restorer, newest name order."""
        found = []
        for folder in self.model_dirs:
            if not os.path.isdir(folder):
                continue
            for entry in sorted(os.listdir(folder)):
                lower = entry.lower()
                if lower.endswith((".pth", ".safetensors")) and self.name_must_contain.lower() in lower:
                    found.append(os.path.join(folder, entry))
        return found

    def restore(self, np_image: Any) -> Any:
        files = self.model_files()
        if not files:
            where = self.model_dirs[0] if self.model_dirs else "the models folder"
            raise FaceRestorationUnavailable(
                f"{self.display_name}: no model file found; nothing is downloaded: put {self.expected_file} in {where}"
            )
        raise FaceRestorationUnavailable(f"{self.display_name}: running face restoration is not available yet")


class CodeFormerRestorer(ModelFolderRestorer):
    display_name = "CodeFormer"
    expected_file = "codeformer-v0.1.0.pth"
    name_must_contain = "codeformer"


class GFPGANRestorer(ModelFolderRestorer):
    display_name = "GFPGAN"
    expected_file = "GFPGANv1.4.pth"
    name_must_contain = "gfpgan"


class FaceRestorerRegistry:
    """The face restorers of the running app, in A1111's order (CodeFormer, GFPGAN, then extensions')."""

    def __init__(self) -> None:
        self.restorers: list[FaceRestoration] = []

    def register(self, restorer: FaceRestoration) -> None:
        """Add a restorer (extensions call this); one with the same name replaces the old one."""
        self.restorers = [r for r in self.restorers if r.name() != restorer.name()] + [restorer]

    def setup_builtin(self, codeformer_dir: str, gfpgan_dir: str, legacy_gfpgan_dir: str | None = None) -> None:
        self.register(CodeFormerRestorer([codeformer_dir]))
        self.register(GFPGANRestorer([gfpgan_dir, legacy_gfpgan_dir or ""]))

    def find(self, name: str) -> FaceRestoration | None:
        return next((r for r in self.restorers if r.name() == name), None)

    def as_api_list(self) -> list[dict]:
        """``/sdapi/v1/face-restorers`` items: ``name`` and ``cmd_dir``."""
        return [{"name": r.name(), "cmd_dir": getattr(r, "cmd_dir", None)} for r in self.restorers]
