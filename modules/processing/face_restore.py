"""Face restoration of a job's pictures with the restorer setting ``face_restoration_model`` names."""
from __future__ import annotations

from typing import Any

from modules.core.services import Services


def restore_faces(services: Services, np_image: Any) -> Any:
    """``np_image`` (HxWx3 uint8 RGB) with faces restored; unchanged when no restorer of that name is loaded."""
    restorers = services.face_restorers
    restorer = restorers.find(services.opts.face_restoration_model) if restorers else None
    if restorer is None:
        return np_image
    return restorer.restore(np_image)
