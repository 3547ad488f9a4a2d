"""A1111's ``modules.gfpgan_model`` import path."""
from __future__ import annotations

import logging
from typing import Any

from modules.postprocess.face_restoration import GFPGANRestorer as FaceRestorerGFPGAN  # noqa: F401

log = logging.getLogger(__name__)


def __getattr__(name: str) -> Any:
    if name == "gfpgan_face_restorer":
        from modules import shared

        return shared.face_restorers.find("GFPGAN") if shared.face_restorers is not None else None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def gfpgan_fix_faces(np_image: Any) -> Any:
    """Restore the faces of an RGB uint8 array with GFPGAN (unchanged, with a warning, when it is not set up)."""
    restorer = __getattr__("gfpgan_face_restorer")
    if restorer is None:
        log.warning("GFPGAN face restorer not set up")
        return np_image
    return restorer.restore(np_image)


def setup_model(dirname: str) -> None:
    """Register GFPGAN with weights from ``dirname``."""
    from modules import shared
    from modules.postprocess.face_restoration import FaceRestorerRegistry

    if shared.face_restorers is None:
        shared.face_restorers = FaceRestorerRegistry()
    shared.face_restorers.register(FaceRestorerGFPGAN([dirname], [dirname]))
