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


def border_jumps(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Mean absolute jump across every column line and row line, and across the two wrap borders.

    Returns (column_jumps, row_jumps, wrap_jump_x, wrap_jump_y). A periodic image's wrap jumps look
    like any interior line's jumps; a seam makes them stand out above all of them.
    """
    a = np.asarray(image, np.float64)
    if a.ndim == 2:
        a = a[..., None]
    cols = np.abs(np.diff(a, axis=1)).mean(axis=(0, 2))
    rows = np.abs(np.diff(a, axis=0)).mean(axis=(1, 2))
    return cols, rows, float(np.abs(a[:, 0] - a[:, -1]).mean()), float(np.abs(a[0] - a[-1]).mean())


def looks_periodic(image: np.ndarray) -> bool:
    """True when neither wrap border jumps more than the largest interior line does."""
    cols, rows, wx, wy = border_jumps(image)
    return wx <= cols.max() and wy <= rows.max()
