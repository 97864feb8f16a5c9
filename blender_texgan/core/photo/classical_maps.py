"""Maps from a photo without a network: luminance as height (the classical method of Materialize
and CrazyBump), with settings fitted once across the 18 CC0 sets instead of tuned per image.

    maps = classical_maps(photo, periodic=True)   # albedo (the photo), normal, height, roughness

Height is the photo's luminance with its slow trends removed and a light blur; the normal is
derived from that height; roughness is an affine function of luminance. The constants below are
the ones that minimise the mean error over the sets, rendered under the measurement lights
(scripts/fit_classical_maps.py prints them, and the leave-one-set-out figures in docs/photo.md).
"""
from __future__ import annotations

import numpy as np

from ..maps import MapSet
from ..normals import normal_from_height
from .seamless import luminance

# Fitted across the sets (scripts/fit_classical_maps.py); see the module doc.
# Fitted on all 18 sets: the least mean angular error is at the gentlest strength tried, with
# bright as high; over the sets, luminance says little about relief, and a flat normal is as good
# (docs/photo.md has the leave-one-set-out figures). The relief is kept gentle on purpose.
HEIGHT_BLUR = 4.0          # pixels: the blur of the luminance that becomes height
NORMAL_STRENGTH = 1.0      # relief of a 0 -> 1 luminance step in pixels; negative would be dark-is-high
ROUGHNESS = (0.27, 0.64)   # roughness = a + b * luminance
TREND_SIGMA = 1 / 16       # luminance trends wider than this share of the side are removed
HEIGHT_GAIN = 2.0          # height = 0.5 + gain * (detail luminance), clipped to [0, 1]


def blur(plane: np.ndarray, sigma: float, periodic: bool) -> np.ndarray:
    """Gaussian blur through the FFT; a non-periodic plane is mirrored first (no wrap-around)."""
    if sigma <= 0:
        return plane
    h, w = plane.shape
    a = plane if periodic else np.pad(plane, ((0, h), (0, w)), mode="symmetric")
    fy, fx = np.fft.fftfreq(a.shape[0])[:, None], np.fft.fftfreq(a.shape[1])[None]
    out = np.fft.irfft2(np.fft.rfft2(a) * np.exp(-2.0 * (np.pi * sigma) ** 2 * (fy ** 2 + fx[:, : a.shape[1] // 2 + 1] ** 2)),
                        s=a.shape)
    return out[:h, :w].astype(np.float32)


def detail_luminance(photo: np.ndarray, periodic: bool, height_blur: float = HEIGHT_BLUR) -> np.ndarray:
    """Luminance minus its slow trends, lightly blurred: the classical height before scaling."""
    lum = luminance(photo)
    trend = blur(lum, TREND_SIGMA * min(lum.shape), periodic)
    return blur(lum - trend, height_blur, periodic)


def height_strength(strength: float = NORMAL_STRENGTH) -> float:
    """The strength at which normal_from_height(height) gives classical_maps' normal (before clipping)."""
    return abs(strength) / HEIGHT_GAIN


def classical_maps(photo: np.ndarray, periodic: bool, strength: float = NORMAL_STRENGTH,
                   height_blur: float = HEIGHT_BLUR, roughness: tuple[float, float] = ROUGHNESS) -> MapSet:
    """(H, W, 3) sRGB photo in [0, 1] -> albedo (the photo), normal, height, roughness."""
    photo = np.asarray(photo, np.float32)[..., :3]
    detail = detail_luminance(photo, periodic, height_blur)
    sign = -1.0 if strength < 0 else 1.0
    height = np.clip(0.5 + sign * HEIGHT_GAIN * detail, 0.0, 1.0)
    # The normal comes from the unclipped detail so that clipping never flattens it.
    normal = normal_from_height(detail, strength)
    if not periodic:  # normal_from_height wraps: redo the border rows and columns without wrapping
        normal[[0, -1]] = normal[[1, -2]]
        normal[:, [0, -1]] = normal[:, [1, -2]]
    rough = np.clip(roughness[0] + roughness[1] * luminance(photo), 0.0, 1.0)
    return {"albedo": photo, "normal": normal, "height": height[..., None].astype(np.float32),
            "roughness": rough[..., None].astype(np.float32)}
