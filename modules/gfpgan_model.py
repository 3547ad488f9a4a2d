"""A1111's ``modules.gfpgan_model`` import path."""
from __future__ import annotations

import logging
from typing import Any

from modules.core.services import current_services
from modules.postprocess.face_restoration import FaceRestorerRegistry
from modules.postprocess.face_restoration import GFPGANRestorer as FaceRestorerGFPGAN  # noqa: F401

log = logging.getLogger(__name__)


def __getattr__(name: str) -> Any:
    if name == "gfpgan_face_restorer":
        restorers = current_services().face_restorers
        return restorers.find("GFPGAN") if restorers is not None else None
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
    services = current_services()
    if services.face_restorers is None:
        services.face_restorers = FaceRestorerRegistry()
    services.face_restorers.register(FaceRestorerGFPGAN([dirname], [dirname]))
