"""A1111's ``modules.face_restoration`` import path."""
from __future__ import annotations

from typing import Any

from modules.core.services import current_services
from modules.postprocess.face_restoration import FaceRestoration  # noqa: F401
from modules.processing import face_restore


def restore_faces(np_image: Any) -> Any:
    """Restore faces with the restorer named by setting ``face_restoration_model`` (A1111's function)."""
    return face_restore.restore_faces(current_services(), np_image)
