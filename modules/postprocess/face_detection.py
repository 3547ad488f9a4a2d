"""The face detector and face-parsing mask A1111 uses (facexlib's RetinaFace ResNet-50 and ParseNet).

facexlib supplies the two network definitions; their weights are read here,
safely, only from the face-restoration model folders (``models/GFPGAN``,
``models/Codeformer`` or the ``--*-models-path`` folders) and never downloaded:

- ``detection_Resnet50_Final.pth`` is required; without it restoring faces
  fails with a message naming the file and the folder;
- ``parsing_parsenet.pth`` is optional; without it the face is blended in
  through facexlib's soft square mask instead of the parsed face shape.

Imported only when faces are restored (imports torch).
"""
from __future__ import annotations

import logging
import os
import threading
import warnings
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from modules.postprocess.face_helper import FACE_SIZE, Face, face_to_tensor, parsing_mask_from_labels
from modules.postprocess.spandrel_loader import read_state_dict
from modules.postprocess.unavailable import FaceRestorationUnavailable

log = logging.getLogger(__name__)

DETECTION_FILE = "detection_Resnet50_Final.pth"
PARSING_FILE = "parsing_parsenet.pth"
DETECTION_RESIZE = 640
"""The detector sees the picture scaled so its short side is this long (A1111's ``resize=640``)."""
DETECTION_CONFIDENCE = 0.97

_lock = threading.Lock()
_detectors: dict[tuple[str, str], "RetinaFaceDetector"] = {}
_parsers: dict[tuple[str, str], "ParseNetMask"] = {}
_warned_no_parsing: set[str] = set()


class FaceDetectionUnavailable(FaceRestorationUnavailable):
    """facexlib or the detector's weights are missing; the message says what to install or where to put what."""


def find_weight_file(file_name: str, folders: Sequence[str]) -> str | None:
    """The first ``folders`` entry holding ``file_name``."""
    for folder in folders:
        if folder and os.path.isfile(os.path.join(folder, file_name)):
            return os.path.join(folder, file_name)
    return None


def _read_weights(path: str) -> dict[str, Any]:
    state_dict = read_state_dict(path)
    # weights saved from a DataParallel wrapper carry a "module." prefix
    return {k[7:] if k.startswith("module.") else k: v for k, v in state_dict.items()}


class RetinaFaceDetector:
    """RetinaFace ResNet-50 as A1111 calls it: short side scaled to 640, confidence 0.97, landmarks in picture pixels."""

    def __init__(self, weights_path: str, device: torch.device | str = "cpu") -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torchvision's notice about the 'pretrained' argument facexlib passes
                from facexlib.detection.retinaface import RetinaFace

                net = RetinaFace(network_name="resnet50", half=False, device=torch.device(device))
        except ImportError as e:
            raise FaceDetectionUnavailable(
                f"face detection needs the facexlib package (pip install facexlib): {e}") from e
        net.load_state_dict(_read_weights(weights_path), strict=True)
        self.net = net.eval()
        self.device = torch.device(device)

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        h, w = rgb.shape[:2]
        scale = min(h, w) / DETECTION_RESIZE
        resized = Image.fromarray(rgb).resize((int(w / scale), int(h / scale)), Image.Resampling.LANCZOS)
        bgr = np.ascontiguousarray(np.asarray(resized)[:, :, ::-1]).astype(np.float32)
        with torch.no_grad():
            detections = self.net.detect_faces(bgr, DETECTION_CONFIDENCE) * scale
        return [Face(box=d[0:4].tolist(), landmarks=np.asarray(d[5:15], dtype=np.float64).reshape(5, 2), score=float(d[4]))
                for d in detections]

    def to(self, device: torch.device | str) -> "RetinaFaceDetector":
        self.net.to(device)
        self.net.device = torch.device(device)  # facexlib moves its inputs to this
        self.net.mean_tensor = self.net.mean_tensor.to(device)
        self.device = torch.device(device)
        return self


class ParseNetMask:
    """facexlib's ParseNet (19 face classes) turned into the soft paste-back mask."""

    def __init__(self, weights_path: str, device: torch.device | str = "cpu") -> None:
        from facexlib.parsing.parsenet import ParseNet

        net = ParseNet(in_size=FACE_SIZE, out_size=FACE_SIZE, parsing_ch=19)
        net.load_state_dict(_read_weights(weights_path), strict=True)
        self.net = net.eval().to(device)
        self.device = torch.device(device)

    def __call__(self, face_rgb: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = self.net(face_to_tensor(face_rgb).to(self.device))[0]
        labels = out.argmax(dim=1).squeeze(0).cpu().numpy()
        return parsing_mask_from_labels(labels)


def get_detector(folders: Sequence[str], device: torch.device | str = "cpu") -> RetinaFaceDetector:
    """The RetinaFace detector with weights from ``folders`` (built once per file and device)."""
    path = find_weight_file(DETECTION_FILE, folders)
    if path is None:
        where = next((f for f in folders if f), "the face restoration models folder")
        raise FaceDetectionUnavailable(
            f"face detection weights {DETECTION_FILE} not found; nothing is downloaded: put {DETECTION_FILE} in {where}")
    key = (os.path.realpath(path), str(device))
    with _lock:
        if key not in _detectors:
            _detectors[key] = RetinaFaceDetector(path, device)
        return _detectors[key]


def get_parsing_mask(folders: Sequence[str], device: torch.device | str = "cpu") -> ParseNetMask | None:
    """The ParseNet mask function with weights from ``folders``, or ``None`` (square mask) when absent."""
    path = find_weight_file(PARSING_FILE, folders)
    if path is None:
        where = next((f for f in folders if f), "the face restoration models folder")
        if where not in _warned_no_parsing:
            _warned_no_parsing.add(where)
            log.warning("%s not found in %s: faces are blended in with a soft square mask", PARSING_FILE, where)
        return None
    key = (os.path.realpath(path), str(device))
    with _lock:
        if key not in _parsers:
            try:
                _parsers[key] = ParseNetMask(path, device)
            except ImportError:
                return None
        return _parsers[key]
