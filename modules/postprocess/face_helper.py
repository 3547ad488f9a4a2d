"""Face restoration around a network: align each detected face, run the network, paste the result back.

The steps are those of facexlib's ``FaceRestoreHelper`` as A1111 uses it
(upscale 1, 512 px faces, the FFHQ five-point template, every face, eye distance
at least 5 px), written with numpy/scipy so no OpenCV is needed:

1. the detector gives each face's box and five landmarks (eyes, nose, mouth corners);
2. a similarity transform (rotation, uniform scale, shift) fitted by least squares maps
   the landmarks onto the template, and the face is warped to 512x512 (grey outside);
3. the face goes to the network as RGB in [-1, 1];
4. the result is warped back with the inverse transform and blended in through a soft
   mask (from a face-parsing network when one is given, else an eroded, blurred square).

A face whose network call fails is logged and left as it was.  Only the pixels
around a detected face can change.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

log = logging.getLogger(__name__)

FACE_SIZE = 512
FFHQ_TEMPLATE_512 = np.array([
    [192.98138, 239.94708],  # left eye
    [318.90277, 240.19360],  # right eye
    [256.63416, 314.01935],  # nose tip
    [201.26117, 371.41043],  # left mouth corner
    [313.08905, 371.15118],  # right mouth corner
], dtype=np.float64)
"""Where the five landmarks sit in a 512 px aligned face (the FFHQ alignment facexlib uses)."""

BORDER_RGB = (132.0, 133.0, 135.0)
"""The grey facexlib fills outside the picture with (its BGR 135, 133, 132)."""

EYE_DISTANCE_THRESHOLD = 5.0


@dataclass
class Face:
    """One detection in picture coordinates: box (x1, y1, x2, y2), score, landmarks as a 5x2 array of (x, y)."""

    box: Sequence[float]
    landmarks: np.ndarray
    score: float = 1.0


class FaceDetector(Protocol):
    """Finds faces in an RGB uint8 HxWx3 picture; coordinates are in that picture's pixels."""

    def __call__(self, rgb: np.ndarray) -> list[Face]: ...


RestoreFn = Callable[[Any], Any]
"""Takes a 1x3x512x512 RGB tensor in [-1, 1] and returns one of the same shape."""

MaskFn = Callable[[np.ndarray], np.ndarray]
"""Takes the restored 512x512 RGB uint8 face and returns a 512x512 float mask in [0, 1] (face parsing)."""


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform taking the points ``src`` to ``dst`` best in the least-squares sense."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    # unknowns a, b, tx, ty of [[a, -b, tx], [b, a, ty]]: two linear equations per point
    rows = []
    for (x, y) in src:
        rows.append([x, -y, 1.0, 0.0])
        rows.append([y, x, 0.0, 1.0])
    solution, *_ = np.linalg.lstsq(np.array(rows), dst.reshape(-1), rcond=None)
    a, b, tx, ty = solution
    return np.array([[a, -b, tx], [b, a, ty]])


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine transform."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def warp_affine(src: np.ndarray, matrix: np.ndarray, size: tuple[int, int], border_value: Sequence[float] | float = 0.0,
                offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Bilinear warp of ``src`` (HxW or HxWxC float) by the forward transform ``matrix`` (as OpenCV's warpAffine).

    Returns the ``size`` = (width, height) region of the output whose top-left
    corner is ``offset`` = (x, y) in output coordinates; pixel centres are at
    integer coordinates; points falling outside ``src`` take ``border_value``.
    """
    width, height = size
    inverse = invert_affine(matrix)
    ys, xs = np.mgrid[offset[1]:offset[1] + height, offset[0]:offset[0] + width].astype(np.float64)
    sx = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    sy = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]

    src = np.asarray(src, dtype=np.float32)
    squeeze = src.ndim == 2
    if squeeze:
        src = src[:, :, None]
    h, w, channels = src.shape
    border = np.broadcast_to(np.asarray(border_value, dtype=np.float32), (channels,))
    padded = np.empty((h + 2, w + 2, channels), dtype=np.float32)
    padded[:] = border
    padded[1:-1, 1:-1] = src

    # sample the padded picture so that neighbours just outside blend towards the border value
    x0 = np.floor(sx)
    y0 = np.floor(sy)
    fx = (sx - x0).astype(np.float32)[..., None]
    fy = (sy - y0).astype(np.float32)[..., None]
    x0 = np.clip(x0.astype(np.int64) + 1, 0, w + 1)
    y0 = np.clip(y0.astype(np.int64) + 1, 0, h + 1)
    x1 = np.clip(x0 + 1, 0, w + 1)
    y1 = np.clip(y0 + 1, 0, h + 1)
    outside = (sx < -1) | (sx > w) | (sy < -1) | (sy > h)
    top = padded[y0, x0] * (1 - fx) + padded[y0, x1] * fx
    bottom = padded[y1, x0] * (1 - fx) + padded[y1, x1] * fx
    out = top * (1 - fy) + bottom * fy
    out[outside] = border
    return out[:, :, 0] if squeeze else out


def _erode(mask: np.ndarray, size: int) -> np.ndarray:
    if size <= 1:
        return mask
    from scipy import ndimage

    return ndimage.minimum_filter(mask, size=size, mode="nearest")


def _gaussian_blur(mask: np.ndarray, ksize: int, sigma: float = 0.0) -> np.ndarray:
    """OpenCV-style Gaussian blur: kernel ``ksize`` wide, sigma derived from it when 0, mirrored borders."""
    if ksize <= 1:
        return mask
    from scipy import ndimage

    if sigma <= 0:
        sigma = 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8
    return ndimage.gaussian_filter(mask, sigma=sigma, mode="mirror", truncate=(ksize // 2) / sigma)


def face_region(inverse: np.ndarray, width: int, height: int, face_size: int = FACE_SIZE) -> tuple[int, int, int, int]:
    """The part (x0, y0, x1, y1) of the picture the aligned face square lands on, with a small margin."""
    corners = np.array([[0, 0, 1], [face_size, 0, 1], [0, face_size, 1], [face_size, face_size, 1]], dtype=np.float64)
    mapped = corners @ inverse.T
    x0 = max(0, int(math.floor(mapped[:, 0].min())) - 2)
    y0 = max(0, int(math.floor(mapped[:, 1].min())) - 2)
    x1 = min(width, int(math.ceil(mapped[:, 0].max())) + 2)
    y1 = min(height, int(math.ceil(mapped[:, 1].max())) + 2)
    return x0, y0, x1, y1


def _square_soft_mask(inverse: np.ndarray, region: tuple[int, int, int, int], face_size: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """facexlib's masks without parsing: (the warped face square eroded by 2 px, that square eroded and blurred).

    The first multiplies the warped face, the second blends it in; both shrink and
    soften in proportion to the face's size.
    """
    x0, y0, x1, y1 = region
    ones = np.ones((face_size, face_size), dtype=np.float32)
    inv_mask = _erode(warp_affine(ones, inverse, (x1 - x0, y1 - y0), 0.0, offset=(x0, y0)), 2)
    edge = int(float(inv_mask.sum()) ** 0.5) // 20
    center = _erode(inv_mask, edge * 2)
    return inv_mask, _gaussian_blur(center, edge * 2 + 1)


def parsing_mask_from_labels(labels: np.ndarray) -> np.ndarray:
    """A soft face mask from a 19-class face-parsing map (facexlib's colour map, blurred twice, borders cleared)."""
    keep = np.array([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0], dtype=np.float32)
    mask = keep[np.clip(labels, 0, len(keep) - 1)] * 255.0
    mask = _gaussian_blur(_gaussian_blur(mask, 101, 11), 101, 11)
    border = 10
    mask[:border, :] = 0
    mask[-border:, :] = 0
    mask[:, :border] = 0
    mask[:, -border:] = 0
    return mask / 255.0


def face_to_tensor(face: np.ndarray) -> Any:
    """512x512 RGB uint8 -> 1x3x512x512 float tensor in [-1, 1]."""
    import torch

    arr = face.astype(np.float32).transpose(2, 0, 1) / 255.0
    return (torch.from_numpy(np.ascontiguousarray(arr)).unsqueeze(0) - 0.5) / 0.5


def tensor_to_face(tensor: Any) -> np.ndarray:
    """1x3xHxW tensor in [-1, 1] -> HxWx3 RGB uint8 (truncated, as A1111 converts it)."""
    arr = tensor.squeeze(0).float().detach().cpu().clamp_(-1, 1).add_(1).div_(2).numpy().transpose(1, 2, 0)
    return (arr * 255.0).astype(np.uint8)


def align_face(rgb: np.ndarray, landmarks: np.ndarray, face_size: int = FACE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """The aligned ``face_size`` square face (uint8) and the transform that took it from ``rgb``."""
    template = FFHQ_TEMPLATE_512 * (face_size / 512.0)
    matrix = estimate_similarity(landmarks, template)
    face = warp_affine(rgb.astype(np.float32), matrix, (face_size, face_size), BORDER_RGB)
    return np.clip(np.rint(face), 0, 255).astype(np.uint8), matrix


def paste_face(canvas: np.ndarray, restored: np.ndarray, matrix: np.ndarray, mask_fn: MaskFn | None = None) -> None:
    """Blend ``restored`` (the aligned face after the network) back into the float ``canvas`` in place."""
    height, width = canvas.shape[:2]
    face_size = restored.shape[0]
    inverse = invert_affine(matrix)
    region = face_region(inverse, width, height, face_size)
    x0, y0, x1, y1 = region
    if x1 <= x0 or y1 <= y0:
        return
    size = (x1 - x0, y1 - y0)
    warped = warp_affine(restored.astype(np.float32), inverse, size, 0.0, offset=(x0, y0))
    if mask_fn is not None:
        soft = warp_affine(mask_fn(restored).astype(np.float32), inverse, size, 0.0, offset=(x0, y0))
    else:
        inside, soft = _square_soft_mask(inverse, region, face_size)
        warped *= inside[:, :, None]
    soft = soft[:, :, None]
    patch = canvas[y0:y1, x0:x1]
    canvas[y0:y1, x0:x1] = soft * warped + (1 - soft) * patch


def detect_faces(rgb: np.ndarray, detector: FaceDetector) -> list[Face]:
    """The detector's faces whose eyes are at least 5 px apart (side views and tiny faces are skipped)."""
    kept = []
    for face in detector(rgb):
        landmarks = np.asarray(face.landmarks, dtype=np.float64).reshape(5, 2)
        if np.linalg.norm(landmarks[0] - landmarks[1]) < EYE_DISTANCE_THRESHOLD:
            continue
        kept.append(Face(face.box, landmarks, face.score))
    return kept


def restore_faces(np_image: np.ndarray, detector: FaceDetector, restore_face: RestoreFn,
                  mask_fn: MaskFn | None = None, face_size: int = FACE_SIZE) -> np.ndarray:
    """Restore every face ``detector`` finds in the RGB uint8 picture ``np_image`` with ``restore_face``."""
    import torch

    rgb = np.asarray(np_image)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    rgb = np.ascontiguousarray(rgb[:, :, :3])
    faces = detect_faces(rgb, detector)
    if not faces:
        return rgb
    canvas = rgb.astype(np.float32)
    for index, face in enumerate(faces):
        aligned, matrix = align_face(rgb, face.landmarks, face_size)
        try:
            with torch.no_grad():
                output = restore_face(face_to_tensor(aligned))
        except Exception as e:  # one bad face must not lose the others (A1111 reports and goes on)
            log.error("Face restoration failed on face %d: %s", index, e, exc_info=True)
            continue
        paste_face(canvas, tensor_to_face(output), matrix, mask_fn)
    return canvas.astype(np.uint8)
