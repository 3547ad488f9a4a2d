"""A1111's ``modules.face_restoration`` import path."""
from __future__ import annotations

from typing import Any

from modules.postprocess.face_restoration import FaceRestoration  # noqa: F401


def restore_faces(np_image: Any) -> Any:
    """Restore faces with the restorer named by setting ``face_restoration_model`` (A1111's function)."""
    from modules import shared

    restorer = shared.face_restorers.find(shared.opts.face_restoration_model) if shared.face_restorers else None
    if restorer is None:
        return np_image
    return restorer.restore(np_image)
