"""img2img colour correction (setting ``img2img_color_correction``): match the result's colours to the init image.

As A1111: the result's LAB histograms are matched to the init image's, then the
original luminosity is kept and the matched colour taken (a luminosity blend).
LAB conversion and histogram matching are written here with numpy (sRGB, D65).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

_RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                        [0.212671, 0.715160, 0.072169],
                        [0.019334, 0.119193, 0.950227]])
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE = np.array([0.950456, 1.0, 1.088754])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float LAB (L in 0..100)."""
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    lightness = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a, b], axis=-1)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float LAB -> uint8 RGB (clipped)."""
    fy = (lab[..., 0] + 16) / 116
    fx = fy + lab[..., 1] / 500
    fz = fy - lab[..., 2] / 200
    f = np.stack([fx, fy, fz], axis=-1)
    xyz = np.where(f > 0.206893, f ** 3, (f - 16 / 116) / 7.787) * _WHITE
    linear = np.clip(xyz @ _XYZ_TO_RGB.T, 0, 1)
    c = np.where(linear > 0.0031308, 1.055 * linear ** (1 / 2.4) - 0.055, 12.92 * linear)
    return np.clip(np.round(c * 255), 0, 255).astype(np.uint8)


def match_histogram(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Map ``source`` values so their distribution follows ``reference``'s (one channel)."""
    src_values, src_index, src_counts = np.unique(source.ravel(), return_inverse=True, return_counts=True)
    ref_values, ref_counts = np.unique(reference.ravel(), return_counts=True)
    src_quantiles = np.cumsum(src_counts) / source.size
    ref_quantiles = np.cumsum(ref_counts) / reference.size
    mapped = np.interp(src_quantiles, ref_quantiles, ref_values)
    return mapped[src_index].reshape(source.shape)


def setup_color_correction(image: Image.Image) -> np.ndarray:
    """The init image's LAB pixels, the target of the correction."""
    return rgb_to_lab(np.asarray(image.convert("RGB")))


def apply_color_correction(correction: np.ndarray, image: Image.Image) -> Image.Image:
    """Match ``image``'s LAB histograms to ``correction``, then keep ``image``'s own lightness."""
    lab = rgb_to_lab(np.asarray(image.convert("RGB")))
    matched = np.stack([match_histogram(lab[..., i], correction[..., i]) for i in range(3)], axis=-1)
    matched[..., 0] = lab[..., 0]  # luminosity blend: the result's lightness, the matched colour
    return Image.fromarray(lab_to_rgb(matched))
