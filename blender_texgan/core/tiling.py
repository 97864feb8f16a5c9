"""Periodicity maths: tiling arrays and measuring how visible the wrap-around seam is."""
from __future__ import annotations

import numpy as np


def tile(image: np.ndarray, reps: int = 2) -> np.ndarray:
    """Repeat an (H, W, ...) array reps x reps times."""
    return np.tile(image, (reps, reps) + (1,) * (image.ndim - 2))


def seam_ratio(image: np.ndarray) -> float:
    """Mean jump across the wrap borders / mean jump between interior neighbours.

    About 1.0 for a seamless texture; a visible seam pushes it well above 1.
    """
    a = np.asarray(image, np.float64)
    if a.ndim == 2:
        a = a[..., None]
    interior_x = np.abs(np.diff(a, axis=1)).mean()
    interior_y = np.abs(np.diff(a, axis=0)).mean()
    seam_x = np.abs(a[:, 0] - a[:, -1]).mean()
    seam_y = np.abs(a[0, :] - a[-1, :]).mean()
    interior = 0.5 * (interior_x + interior_y)
    if interior == 0.0:
        return 1.0 if seam_x + seam_y == 0.0 else float("inf")
    return float(0.5 * (seam_x + seam_y) / interior)
