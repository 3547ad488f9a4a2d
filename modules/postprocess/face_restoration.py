"""The face restorer extension point and the registry of restorers (CodeFormer, GFPGAN).

A restorer is a subclass of :class:`FaceRestoration` registered in the
registry.  The built-in CodeFormer and GFPGAN find their weights in
``models/Codeformer`` and ``models/GFPGAN`` (never downloaded), load them
through spandrel, and restore each face the detector finds
(:mod:`face_helper`).  The detector is facexlib's RetinaFace with weights from
the same folders, unless one is injected (``restorer.detector = ...``).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable

from modules.core.services import current_services
from modules.postprocess.face_helper import restore_faces
from modules.postprocess.unavailable import FaceRestorationUnavailable  # noqa: F401  (imported from here by many)

log = logging.getLogger(__name__)


class FaceRestoration:
    """A face restorer.  Override :meth:`name` and :meth:`restore` (numpy HxWx3 uint8 RGB in and out)."""

    def name(self) -> str:
        return "None"

    def restore(self, np_image: Any) -> Any:
        return np_image


def _opt(key: str, default: Any) -> Any:
    opts = current_services().opts
    return getattr(opts, key, default) if opts is not None else default


class ModelFolderRestorer(FaceRestoration):
    """A built-in restorer whose weights live in a models folder (A1111's ``CommonFaceRestoration``).

    Subclasses say which file they want and implement :meth:`run_net`.
    """

    display_name = ""
    expected_file = ""
    name_must_contain = ""
    expected_architecture = ""
    device_task = ""

    def __init__(self, model_dirs: list[str], detector_dirs: list[str] | None = None) -> None:
        self.model_dirs = [d for d in model_dirs if d]
        self.detector_dirs = [d for d in (detector_dirs or []) if d]
        self.cmd_dir = None  # A1111's field, reported by /sdapi/v1/face-restorers
        self.net: Any = None
        self.detector: Callable[[Any], Any] | None = None
        """An injected face detector (``rgb -> list[Face]``); ``None`` uses RetinaFace."""
        self.mask_fn: Callable[[Any], Any] | None = None
        """An injected paste-back mask function; ``None`` uses ParseNet when its weights are present."""

    def name(self) -> str:
        return self.display_name

    def model_files(self) -> list[str]:
        """The weight files found for this restorer, in name order."""
        found = []
        for folder in self.model_dirs:
            if not os.path.isdir(folder):
                continue
            for entry in sorted(os.listdir(folder)):
                lower = entry.lower()
                if lower.endswith((".pth", ".safetensors")) and self.name_must_contain.lower() in lower:
                    found.append(os.path.join(folder, entry))
        return found

    def model_file(self) -> str:
        files = self.model_files()
        if not files:
            where = self.model_dirs[0] if self.model_dirs else "the models folder"
            raise FaceRestorationUnavailable(
                f"{self.display_name}: no model file found; nothing is downloaded: put {self.expected_file} in {where}"
            )
        return files[0]

    def get_device(self) -> Any:
        # torch on first use: the registry is built on the API start path
        from modules.postprocess.spandrel_loader import default_device

        return default_device(self.device_task)

    def load_net(self) -> Any:
        """The network (a spandrel descriptor), loaded once and put on this restorer's device."""
        from modules.postprocess.spandrel_loader import model_cache  # torch on first use

        self.net = model_cache.get(self.model_file(), device=self.get_device(),
                                   expected_architecture=self.expected_architecture)
        return self.net

    def _detector_folders(self) -> list[str]:
        return self.model_dirs + [d for d in self.detector_dirs if d not in self.model_dirs]

    def get_detector(self) -> Callable[[Any], Any]:
        if self.detector is not None:
            return self.detector
        from modules.postprocess import face_detection  # torch and facexlib on first use

        return face_detection.get_detector(self._detector_folders(), self.get_device())

    def get_mask_fn(self) -> Callable[[Any], Any] | None:
        if self.mask_fn is not None or self.detector is not None:
            return self.mask_fn  # an injected detector means no facexlib networks at all
        from modules.postprocess import face_detection  # torch and facexlib on first use

        return face_detection.get_parsing_mask(self._detector_folders(), self.get_device())

    def run_net(self, net: Any, face: Any, **kwargs: Any) -> Any:
        """One aligned face (1x3x512x512 RGB in [-1, 1]) through ``net``; returns the same layout."""
        raise NotImplementedError

    def send_model_to(self, device: Any) -> None:
        if self.net is not None:
            self.net.to(device)

    def restore_with_helper(self, np_image: Any, **kwargs: Any) -> Any:
        net = self.load_net()
        detector = self.get_detector()
        mask_fn = self.get_mask_fn()
        device = self.get_device()

        def restore_face(face: Any) -> Any:
            return self.run_net(net, face.to(device=net.device, dtype=net.dtype), **kwargs)

        try:
            return restore_faces(np_image, detector, restore_face, mask_fn)
        finally:
            if _opt("face_restoration_unload", False) and str(device) != "cpu":
                self.send_model_to("cpu")

    def restore(self, np_image: Any, **kwargs: Any) -> Any:
        return self.restore_with_helper(np_image, **kwargs)


class CodeFormerRestorer(ModelFolderRestorer):
    """CodeFormer (``codeformer-v0.1.0.pth``), fidelity weight from the call or setting ``code_former_weight``."""

    display_name = "CodeFormer"
    expected_file = "codeformer-v0.1.0.pth"
    name_must_contain = "codeformer"
    expected_architecture = "CodeFormer"
    device_task = "codeformer"

    def run_net(self, net: Any, face: Any, **kwargs: Any) -> Any:
        return net.model(face, weight=kwargs["w"], adain=True)[0]

    def restore(self, np_image: Any, w: float | None = None) -> Any:
        """Restore the faces of ``np_image``; ``w`` 0 = strongest effect, 1 = closest to the input."""
        if w is None:
            w = float(_opt("code_former_weight", 0.5))
        return self.restore_with_helper(np_image, w=w)


class GFPGANRestorer(ModelFolderRestorer):
    """GFPGAN (``GFPGANv1.4.pth``; any file whose name contains GFPGAN)."""

    display_name = "GFPGAN"
    expected_file = "GFPGANv1.4.pth"
    name_must_contain = "gfpgan"
    expected_architecture = "GFPGAN"
    device_task = "gfpgan"

    def run_net(self, net: Any, face: Any, **kwargs: Any) -> Any:
        return net.model(face, return_rgb=False)[0]


class FaceRestorerRegistry:
    """The face restorers of the running app, in A1111's order (CodeFormer, GFPGAN, then extensions')."""

    def __init__(self) -> None:
        self.restorers: list[FaceRestoration] = []

    def register(self, restorer: FaceRestoration) -> None:
        """Add a restorer (extensions call this); one with the same name replaces the old one."""
        self.restorers = [r for r in self.restorers if r.name() != restorer.name()] + [restorer]

    def setup_builtin(self, codeformer_dir: str, gfpgan_dir: str, legacy_gfpgan_dir: str | None = None) -> None:
        # the detector's weights may sit in either folder (A1111 users have them where facexlib put them)
        both = [codeformer_dir, gfpgan_dir]
        self.register(CodeFormerRestorer([codeformer_dir], both))
        self.register(GFPGANRestorer([gfpgan_dir, legacy_gfpgan_dir or ""], both))

    def find(self, name: str) -> FaceRestoration | None:
        return next((r for r in self.restorers if r.name() == name), None)

    def __iter__(self):
        return iter(self.restorers)

    def as_api_list(self) -> list[dict]:
        """``/sdapi/v1/face-restorers`` items: ``name`` and ``cmd_dir``."""
        return [{"name": r.name(), "cmd_dir": getattr(r, "cmd_dir", None)} for r in self.restorers]
