"""Repetition, measured: how strongly a render repeats at a baked texture's tile period, relative
to how much the photo itself resembles itself at that distance (issue 24).

A tiled bake repeats exactly every tile, so the render's autocorrelation has a peak at the tile
period along the tiling axes; a texture that does not repeat has there only what the material's own
structure gives, which the photo's autocorrelation at the same distance (averaged over directions)
measures. ``repetition_ratio`` is the first over the second: about 1 for no repeat, much more for a
tiled bake. Never imports bpy.
"""
from __future__ import annotations

import numpy as np

MIN_LEVEL = 0.02   # the photo's level is at least this: a flat 0 would make any ratio infinite
MIN_OVERLAP = 0.25  # a lag counts only where the shifted image still overlaps this fraction of it


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3+) in [0, 1] -> (H, W) float64 luminance (Rec. 709 weights)."""
    a = np.asarray(image, np.float64)
    return a if a.ndim == 2 else a[..., :3] @ np.array([0.2126, 0.7152, 0.0722])


def autocorrelation(image: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of an image (no wrap-around): (2H-1, 2W-1), lag (0, 0) at the
    centre with value 1; each lag's sum is divided by its overlap, so far lags are not damped."""
    x = luminance(image)
    x = x - x.mean()
    h, w = x.shape
    shape = (2 * h, 2 * w)
    f = np.fft.rfft2(x, shape)
    raw = np.fft.irfft2(f * np.conj(f), shape)
    count = np.fft.irfft2(np.abs(np.fft.rfft2(np.ones_like(x), shape)) ** 2, shape)
    acf = np.fft.fftshift(raw / np.maximum(np.round(count), 1.0))[1:, 1:]
    return acf / max(acf[h - 1, w - 1], 1e-12)


def _valid(shape: tuple[int, int], dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    h, w = shape
    return (h - np.abs(dy)) * (w - np.abs(dx)) >= MIN_OVERLAP * h * w


def peak_at_period(image: np.ndarray, period: float) -> float:
    """Mean autocorrelation at the lags (0, +-period) and (+-period, 0), read bilinearly."""
    acf = autocorrelation(image)
    h, w = luminance(image).shape
    values = []
    for dy, dx in ((0, period), (0, -period), (period, 0), (-period, 0)):
        y, x = h - 1 + dy, w - 1 + dx
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        ty, tx = y - y0, x - x0
        patch = acf[y0:y0 + 2, x0:x0 + 2]
        values.append((1 - ty) * ((1 - tx) * patch[0, 0] + tx * patch[0, 1]) + ty * ((1 - tx) * patch[1, 0] + tx * patch[1, 1]))
    return float(np.mean(values))


def ring_level(image: np.ndarray, distance: float, width: float = 1.5) -> float:
    """Mean |autocorrelation| over the lags at `distance` (+- width) in every direction."""
    acf = autocorrelation(image)
    h, w = luminance(image).shape
    dy, dx = np.mgrid[-(h - 1):h, -(w - 1):w]
    ring = (np.abs(np.hypot(dy, dx) - distance) <= width) & _valid((h, w), dy, dx)
    if not ring.any():
        raise ValueError(f"the photo ({w}x{h} px) is too small to show lags of {distance:.0f} px")
    return float(np.abs(acf[ring]).mean())


def repetition_ratio(render: np.ndarray, period: float, photo: np.ndarray, photo_period: float) -> dict:
    """The render's autocorrelation peak at the tile period (render pixels) over the photo's own
    level at the same real distance (photo pixels). A dict: peak, photo_level, ratio."""
    peak = peak_at_period(render, period)
    level = max(ring_level(photo, photo_period), MIN_LEVEL)
    return {"peak": peak, "photo_level": level, "ratio": peak / level}
