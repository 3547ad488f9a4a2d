"""Focal-point cropping for "Auto focal point crop" (A1111's ``modules.textual_inversion.autocrop``).

The picture is scaled so its shorter side (as the target's shape asks) fits the
crop, then the crop of the target size is centred, as far as the picture allows,
on a focal point: the weighted average of up to three points of interest --
faces, the most "busy" (highest-entropy) window, and strong corners (edges).

Faces need a detector that works offline: OpenCV's YuNet model when its file is
in ``models/opencv`` (A1111 downloads it there; this build never downloads), else
the Haar cascades bundled with OpenCV when the installed wheel carries them.
Without either, faces are skipped and the focal point comes from entropy and
edges only (:func:`face_detection_method` says which one is in use).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

GREEN = "#0F0"
BLUE = "#00F"
RED = "#F00"
YELLOW = "#ff0"

YUNET_FILES = ("face_detection_yunet_2023mar.onnx", "face_detection_yunet.onnx")
"""File names A1111 stores the YuNet face detector under (``models/opencv``), newest first."""

HAAR_CASCADES = [
    ("haarcascade_eye.xml", 0.01),
    ("haarcascade_frontalface_default.xml", 0.05),
    ("haarcascade_profileface.xml", 0.05),
    ("haarcascade_frontalface_alt.xml", 0.05),
    ("haarcascade_frontalface_alt2.xml", 0.05),
    ("haarcascade_frontalface_alt_tree.xml", 0.05),
    ("haarcascade_eye_tree_eyeglasses.xml", 0.05),
    ("haarcascade_upperbody.xml", 0.05),
]
"""The cascades tried in turn, with the smallest face size as a share of the picture's shorter side."""


@dataclass
class PointOfInterest:
    """A point the crop should contain; ``weight`` is its share in an average, ``size`` how large it is drawn."""

    x: float
    y: float
    weight: float = 1.0
    size: float = 10

    def bounding(self, size: float) -> list[float]:
        half = size // 2
        return [self.x - half, self.y - half, self.x + half, self.y + half]


@dataclass
class Settings:
    """What :func:`crop_image` needs (A1111's ``autocrop.Settings``)."""

    crop_width: int = 512
    crop_height: int = 512
    corner_points_weight: float = 0.5
    entropy_points_weight: float = 0.5
    face_points_weight: float = 0.5
    annotate_image: bool = False
    dnn_model_path: str | None = None


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def yunet_model_path(models_path: str | None) -> str | None:
    """The YuNet face detector's file in ``<models>/opencv`` if one is there (it is never downloaded here)."""
    if not models_path:
        return None
    for name in YUNET_FILES:
        path = os.path.join(models_path, "opencv", name)
        if os.path.isfile(path):
            return path
    return None


def haar_cascade_files() -> list[tuple[str, float]]:
    """The bundled Haar cascades that exist on disk (some OpenCV wheels ship none)."""
    cv2 = _cv2()
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not folder:
        return []
    return [(os.path.join(folder, name), share) for name, share in HAAR_CASCADES
            if os.path.isfile(os.path.join(folder, name))]


def face_detection_method(dnn_model_path: str | None) -> str | None:
    """``"yunet"``, ``"haar"`` or None when no face detector can run offline."""
    cv2 = _cv2()
    if cv2 is None:
        return None
    if dnn_model_path and hasattr(cv2, "FaceDetectorYN"):
        return "yunet"
    return "haar" if haar_cascade_files() else None


def _scale_for(im: Image.Image, crop_width: int, crop_height: int) -> float:
    """The scale that makes the picture cover the crop along the side that limits it."""
    if im.width > im.height:
        return crop_height / im.height
    if im.height > im.width:
        return crop_width / im.width
    if crop_height > crop_width:
        return crop_height / im.height
    return crop_width / im.width


def crop_image(im: Image.Image, settings: Settings) -> list[Image.Image]:
    """The crop around the focal point, then (with ``annotate_image``) the scaled picture with what was found drawn on."""
    scale_by = _scale_for(im, settings.crop_width, settings.crop_height)
    im = im.resize((int(im.width * scale_by), int(im.height * scale_by)))
    im_debug = im.copy()
    focus = focal_point(im_debug, settings)

    # centred on the focal point, then pushed back inside the picture
    x1 = int(min(max(focus.x - settings.crop_width // 2, 0), im.width - settings.crop_width))
    y1 = int(min(max(focus.y - settings.crop_height // 2, 0), im.height - settings.crop_height))
    crop = (x1, y1, x1 + settings.crop_width, y1 + settings.crop_height)

    results = [im.crop(crop)]
    if settings.annotate_image:
        ImageDraw.Draw(im_debug).rectangle([crop[0], crop[1], crop[2] - 1, crop[3] - 1], outline=GREEN)
        results.append(im_debug)
    return results


def focal_point(im: Image.Image, settings: Settings) -> PointOfInterest:
    """The weighted average of the centroids of the corner, entropy and face points (each kind that found some)."""
    kinds = [
        ("Edge", BLUE, settings.corner_points_weight, image_corner_points),
        ("Entropy", YELLOW, settings.entropy_points_weight, image_entropy_points),
        ("Face", RED, settings.face_points_weight, image_face_points),
    ]
    found = [(label, color, weight, points) for label, color, weight, finder in kinds
             if weight > 0 for points in [finder(im, settings)] if points]
    total = sum(weight for _, _, weight, _ in found)
    centroids = []
    for label, color, weight, points in found:
        point = centroid(points)
        point.weight = weight / total
        centroids.append((label, color, point, points))

    average = poi_average([c[2] for c in centroids])
    if settings.annotate_image:
        _annotate(im, centroids, average)
    return average


def _annotate(im: Image.Image, centroids: list, average: PointOfInterest) -> None:
    draw = ImageDraw.Draw(im)
    max_size = min(im.width, im.height) * 0.07
    for label, color, point, points in centroids:
        box = point.bounding(max_size * point.weight)
        draw.text((box[0], box[1] - 15), f"{label}: {point.weight:.02f}", fill=color)
        draw.ellipse(box, outline=color)
        if len(points) > 1:
            for p in points:
                draw.rectangle(p.bounding(4), outline=color)
    draw.ellipse(average.bounding(max_size), outline=GREEN)


def image_face_points(im: Image.Image, settings: Settings) -> list[PointOfInterest]:
    """Faces as points (YuNet: a third down from the top of the face; Haar: the box centre); [] without a detector."""
    method = face_detection_method(settings.dnn_model_path)
    if method is None:
        return []
    cv2 = _cv2()
    rgb = np.array(im.convert("RGB"))
    if method == "yunet":
        detector = cv2.FaceDetectorYN.create(settings.dnn_model_path, "", (im.width, im.height), 0.9, 0.3, 5000)
        faces = detector.detect(rgb)[1]
        if faces is None:
            return []
        return [PointOfInterest(int(x + w * 0.5), int(y + h * 0.33), size=w, weight=1 / len(faces))
                for x, y, w, h in (face[:4] for face in faces)]

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    for path, share in haar_cascade_files():
        classifier = cv2.CascadeClassifier(path)
        minsize = int(min(im.width, im.height) * share)
        try:
            faces = classifier.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=7, minSize=(minsize, minsize),
                                                flags=cv2.CASCADE_SCALE_IMAGE)
        except cv2.error:
            continue
        if len(faces):
            return [PointOfInterest(x + w // 2, y + h // 2, size=w, weight=1 / len(faces)) for x, y, w, h in faces]
    return []


def image_corner_points(im: Image.Image, settings: Settings) -> list[PointOfInterest]:
    """Up to 100 strong corners (Shi-Tomasi), ignoring the bottom tenth where watermarks sit."""
    cv2 = _cv2()
    if cv2 is None:
        return []
    grayscale = im.convert("L")
    ImageDraw.Draw(grayscale).rectangle([0, im.height * .9, im.width, im.height], fill="#999")
    points = cv2.goodFeaturesToTrack(np.array(grayscale), maxCorners=100, qualityLevel=0.04,
                                     minDistance=min(grayscale.width, grayscale.height) * 0.06,
                                     useHarrisDetector=False)
    if points is None:
        return []
    return [PointOfInterest(float(x), float(y), size=4, weight=1 / len(points)) for x, y in points.reshape(-1, 2)]


def image_entropy(im: Image.Image) -> float:
    """Shannon entropy (bits) of the grey levels of ``im``.

    A1111 sums ``-log2 p`` over a black-and-white histogram, which scores a window
    that barely touches a detailed area above one that holds it; the entropy of
    the grey levels peaks on the detailed area itself.
    """
    hist = np.bincount(np.asarray(im.convert("L"), dtype=np.uint8).ravel(), minlength=256)
    p = hist[hist > 0] / hist.sum()
    return float(-(p * np.log2(p)).sum())


def image_entropy_points(im: Image.Image, settings: Settings) -> list[PointOfInterest]:
    """The centre of the crop-sized window, slid along the long side in steps of 4, with the highest entropy.

    Windows that tie (all hold the whole detailed area) are averaged, so the point
    lands in the middle of that area rather than at the first window reaching it.
    """
    if im.width == im.height:
        return []
    landscape = im.width > im.height
    length = im.width if landscape else im.height
    window = settings.crop_width if landscape else settings.crop_height
    offsets = list(range(0, max(length - window, 0) + 1, 4))
    scores = []
    for offset in offsets:
        box = (offset, 0, offset + settings.crop_width, settings.crop_height) if landscape else \
            (0, offset, settings.crop_width, offset + settings.crop_height)
        scores.append(image_entropy(im.crop(box)))
    best = max(scores)
    chosen = [o for o, s in zip(offsets, scores) if s >= best - 1e-9]
    middle = sum(chosen) / len(chosen)
    x_mid = int((middle if landscape else 0) + settings.crop_width / 2)
    y_mid = int((0 if landscape else middle) + settings.crop_height / 2)
    return [PointOfInterest(x_mid, y_mid, size=25, weight=1.0)]


def centroid(pois: list[PointOfInterest]) -> PointOfInterest:
    return PointOfInterest(sum(p.x for p in pois) / len(pois), sum(p.y for p in pois) / len(pois))


def poi_average(pois: list[PointOfInterest]) -> PointOfInterest:
    """The weighted average of ``pois``, rounded to pixels ((0, 0) when there are none)."""
    weight = sum(p.weight for p in pois)
    if not weight:
        return PointOfInterest(0, 0)
    return PointOfInterest(round(sum(p.x * p.weight for p in pois) / weight),
                           round(sum(p.y * p.weight for p in pois) / weight))
