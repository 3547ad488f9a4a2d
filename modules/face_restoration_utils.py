"""A1111's ``modules.face_restoration_utils`` import path (the shared face-restoration flow)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from modules.postprocess.face_helper import restore_faces
from modules.postprocess.face_restoration import ModelFolderRestorer as CommonFaceRestoration  # noqa: F401


def bgr_image_to_rgb_tensor(img: np.ndarray) -> Any:
    """HxWx3 BGR float array in [0, 1] -> 3xHxW RGB float tensor."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1))).float()


def rgb_tensor_to_bgr_image(tensor: Any, *, min_max: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """(1x)3xHxW RGB tensor -> HxWx3 BGR float array in [0, 1]."""
    tensor = tensor.squeeze(0).float().detach().cpu().clamp_(*min_max)
    tensor = (tensor - min_max[0]) / (min_max[1] - min_max[0])
    return tensor.numpy().transpose(1, 2, 0)[:, :, ::-1]


def restore_with_face_helper(np_image: np.ndarray, face_helper: Any, restore_face: Callable[[Any], Any]) -> np.ndarray:
    """Restore every face of the RGB picture; ``face_helper`` is the face detector (``rgb -> list[Face]``)."""
    return restore_faces(np_image, face_helper, restore_face)
