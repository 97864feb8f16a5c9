"""A small shaded preview of a PBR map set: the albedo lit by a directional light through the
normal map, with a roughness-dependent highlight. Used for asset thumbnails without a renderer."""
from __future__ import annotations

import numpy as np

from .normals import decode_normal


def _resize_box(a: np.ndarray, size: int) -> np.ndarray:
    h, w = a.shape[:2]
    ys = (np.arange(size) * h // size)
    xs = (np.arange(size) * w // size)
    return a[ys][:, xs]


def shaded_preview(maps: dict[str, np.ndarray], size: int = 128,
                   light=(-0.5, 0.6, 0.62)) -> np.ndarray:
    """(size, size, 3) linear RGB in [0, 1]."""
    albedo = _resize_box(maps["albedo"], size).astype(np.float32) ** 2.2  # sRGB -> linear
    n = decode_normal(_resize_box(maps["normal"], size))
    rough = _resize_box(maps["roughness"], size)[..., :1]
    l = np.asarray(light, np.float32)
    l /= np.linalg.norm(l)
    ndotl = np.clip((n * l).sum(-1, keepdims=True), 0.0, 1.0)
    h = l + np.array([0.0, 0.0, 1.0], np.float32)
    h /= np.linalg.norm(h)
    shininess = 2.0 / np.maximum(rough, 0.05) ** 4
    spec = np.clip((n * h).sum(-1, keepdims=True), 0, 1) ** shininess * 0.25 * (1 - rough)
    return np.clip(albedo * (0.25 + 0.9 * ndotl) + spec, 0.0, 1.0)
