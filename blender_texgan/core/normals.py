"""Height -> tangent-space normal map, OpenGL convention (+X right, +Y up), periodic borders."""
from __future__ import annotations

import numpy as np


def normal_from_height(height: np.ndarray, strength: float) -> np.ndarray:
    """Normal map encoded to [0, 1] from a (H, W) height field in [0, 1].

    `strength` is the relief, in pixels, of a full 0 -> 1 height step. Rows run top to bottom in the
    image, so "up" (+Y, green) is towards row 0. Differences wrap around, so a periodic height field
    gives a periodic normal map.
    """
    h = np.asarray(height, dtype=np.float32)
    if h.ndim != 2:
        raise ValueError(f"height must be (H, W), got {h.shape}")
    d_dx = (np.roll(h, -1, axis=1) - np.roll(h, 1, axis=1)) * 0.5
    d_dy_up = (np.roll(h, 1, axis=0) - np.roll(h, -1, axis=0)) * 0.5
    n = np.stack([-strength * d_dx, -strength * d_dy_up, np.ones_like(h)], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return (n * 0.5 + 0.5).astype(np.float32)


def decode_normal(encoded: np.ndarray) -> np.ndarray:
    """[0, 1] encoded normal map -> unit vectors in [-1, 1]."""
    return np.asarray(encoded, np.float32) * 2.0 - 1.0
