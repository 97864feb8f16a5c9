"""Morphing between two tileable textures, every frame tileable.

    frames = [morph(a, b, t) for t in morph_times(24)]

The detail of each texture (its values minus its per-channel mean) is mixed with weights
cos(pi t / 2) and sin(pi t / 2), as slerp mixes two Gaussian latents: for textures whose detail is
uncorrelated the variance stays the same all the way (no washed-out middle, as a plain crossfade
gives), and the path is a circular arc walked at an even pace, so equal steps of t change the
frame by about the same amount. The means move linearly. Two periodic textures give periodic
frames: every pixel is mixed with the same pixel of the other texture.
"""
from __future__ import annotations

import numpy as np

from .maps import MapSet
from .normals import normal_from_height


def morph_times(frames: int) -> np.ndarray:
    """t for `frames` frames from the first texture (t = 0) to the second (t = 1)."""
    if frames < 2:
        raise ValueError(f"a morph needs at least 2 frames, not {frames}")
    return np.linspace(0.0, 1.0, frames)


def morph(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """One frame between two (H, W, C) arrays of the same shape, values in [0, 1]."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.shape != b.shape:
        raise ValueError(f"both textures must have the same shape, not {a.shape} and {b.shape}")
    mean_a, mean_b = a.mean(axis=(0, 1)), b.mean(axis=(0, 1))
    angle = 0.5 * np.pi * float(t)
    out = (1.0 - t) * mean_a + t * mean_b + np.cos(angle) * (a - mean_a) + np.sin(angle) * (b - mean_b)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def morph_maps(a: MapSet, b: MapSet, t: float, normal_strength: float) -> MapSet:
    """One frame of a material morph: albedo, height and roughness mixed; the normal derived from
    the mixed height (so the two always agree)."""
    out = {name: morph(a[name], b[name], t) for name in ("albedo", "height", "roughness")}
    out["normal"] = normal_from_height(out["height"][..., 0], normal_strength)
    return out


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between two Gaussian latents of the same shape, taken as one vector
    each: a draw from N(0, 1) has a typical length, and walking the arc (not the chord, whose middle
    is shorter by up to 1/sqrt(2)) keeps every step one; equal steps of t turn by equal angles."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"both latents must have the same shape, not {a.shape} and {b.shape}")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = float(np.dot(a.ravel(), b.ravel()) / max(na * nb, 1e-12))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:  # the same direction: the chord is the arc
        return ((1.0 - t) * a + t * b).astype(np.float32)
    return ((np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype(np.float32)
