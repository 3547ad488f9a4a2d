"""Colour-matched noise for "Outpainting mk2" (A1111's ``get_matched_noise``, after g-diffuser-bot).

The area to outpaint gets noise whose spectrum follows the known part of the
picture (its FFT magnitudes and phases, windowed so the hole does not dominate)
and whose per-channel histogram is matched to the known pixels, so the model
starts from something with the picture's colours and level of detail.

Arrays are ``[rows, columns, channels]`` floats in [0, 1]; a mask is 1 where
noise goes and 0 where the picture is kept.
"""
from __future__ import annotations

import numpy as np


def _fft2(data: np.ndarray) -> np.ndarray:
    """Orthonormal 2-D FFT of each channel with the zero frequency moved to the centre before and after."""
    axes = (0, 1)
    return np.fft.ifftshift(np.fft.fft2(np.fft.fftshift(data, axes=axes), axes=axes, norm="ortho"), axes=axes)


def _ifft2(data: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_fft2`'s transform, with the same shifting."""
    axes = (0, 1)
    return np.fft.ifftshift(np.fft.ifft2(np.fft.fftshift(data, axes=axes), axes=axes, norm="ortho"), axes=axes)


def _falloff_window(rows: int, columns: int, std: float = 3.14) -> np.ndarray:
    """A low-pass window ``(1 / ((x^2 + 1)(y^2 + 1))) ** (std / 3.14)`` over coordinates in [-1, 1) scaled by the
    aspect ratio (A1111's ``_get_gaussian_window`` in mode 1)."""
    shortest = min(rows, columns)
    x = (np.arange(rows) / rows * 2.0 - 1.0) * (rows / shortest)
    y = (np.arange(columns) / columns * 2.0 - 1.0) * (columns / shortest)
    return (1.0 / np.outer(x ** 2 + 1.0, y ** 2 + 1.0)) ** (std / 3.14)


def _spectrum_weight(magnitude: np.ndarray, noise_q: float) -> np.ndarray:
    """``magnitude ** noise_q``, 0 where the magnitude is 0: such a frequency has phase 0 and must stay 0 even for
    ``noise_q < 0``, where 0 ** noise_q is inf and inf * 0 NaN in A1111 (for noise_q >= 0 the shaped spectrum is
    the same either way)."""
    return np.power(magnitude, noise_q, out=np.zeros_like(magnitude), where=magnitude > 0)


def match_histograms(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per column (channel) of ``[n, channels]`` arrays: map ``source`` so its cumulative histogram follows the
    one of ``reference`` (quantile mapping with linear interpolation, as scikit-image's ``match_histograms``)."""
    matched = np.empty(source.shape, dtype=np.float64)
    for channel in range(source.shape[1]):
        values, inverse, counts = np.unique(source[:, channel], return_inverse=True, return_counts=True)
        ref_values, ref_counts = np.unique(reference[:, channel], return_counts=True)
        quantiles = np.cumsum(counts) / source.shape[0]
        ref_quantiles = np.cumsum(ref_counts) / reference.shape[0]
        matched[:, channel] = np.interp(quantiles, ref_quantiles, ref_values)[inverse.reshape(-1)]
    return matched


def get_matched_noise(np_src_image: np.ndarray, np_mask_rgb: np.ndarray, noise_q: float = 1.0,
                      color_variation: float = 0.05) -> np.ndarray:
    """The picture with its masked area replaced by matched noise.

    ``noise_q`` is the fall-off exponent applied to the source spectrum (lower keeps more fine detail);
    ``color_variation`` blends the starting noise from greyscale (0) to fully coloured (1).  The noise
    generator has a fixed seed, so the result depends only on the inputs (the job's seed drives the rest).
    """
    src = np.asarray(np_src_image, dtype=np.float64)
    mask = np.asarray(np_mask_rgb, dtype=np.float64)
    rows, columns, channels = src.shape
    mask_grey = mask.mean(axis=2)
    to_fill = mask_grey > 1e-6
    reference = mask_grey < 1e-3

    # the known pixels, with the hole filled by the average colour: better FFT statistics than a black hole
    windowed = src * (1.0 - mask_grey[:, :, None])
    peak = windowed.max()
    if peak > 0:
        windowed = windowed / peak
    windowed = windowed + src.mean() * mask
    src_fft = _fft2(windowed)
    src_dist = np.abs(src_fft)
    src_phase = np.divide(src_fft, src_dist, out=np.zeros_like(src_fft), where=src_dist > 0)

    rng = np.random.default_rng(0)
    noise = rng.random((rows, columns, channels))
    noise_grey = noise.mean(axis=2)
    noise = noise * color_variation + ((1.0 - color_variation) * noise_grey)[:, :, None]
    noise = np.real(_ifft2(_fft2(noise) * _falloff_window(rows, columns)[:, :, None]))
    shaped_fft = np.abs(_fft2(noise)) ** 2 * _spectrum_weight(src_dist, noise_q) * src_phase  # the actual shaping

    shaped = np.real(_ifft2(shaped_fft))
    shaped -= shaped.min()
    top = shaped.max()
    if top > 0:
        shaped /= top
    if to_fill.any() and reference.any():
        shaped[to_fill, :] = match_histograms(shaped[to_fill, :], src[reference, :])
    shaped = src * (1.0 - mask) + shaped * mask
    return np.clip(shaped, 0.0, 1.0)
