"""How the docs store pictures: JPEG (quality 90, full-resolution colour), small enough for the tree
to travel. PNG stays for what a test or a metric reads and for screenshots of the panels (text).

    write_jpeg(path, image)      # an (H, W[, C]) float array in [0, 1], a uint8 array or a PIL image
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

QUALITY = 90


def write_jpeg(path: str | Path, image) -> Path:
    """Write `image` as a JPEG at `path` (which must end in .jpg); returns the path."""
    path = Path(path)
    if path.suffix != ".jpg":
        raise ValueError(f"a docs picture is a .jpg, not {path.name}")
    if not isinstance(image, Image.Image):
        array = np.asarray(image)
        if array.dtype != np.uint8:
            array = np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
        image = Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=QUALITY, subsampling=0, optimize=True)
    return path


def png_to_jpeg(png: str | Path) -> Path:
    """Replace a PNG (written by a shared helper that writes PNG) with its JPEG beside it."""
    png = Path(png)
    with Image.open(png) as image:
        out = write_jpeg(png.with_suffix(".jpg"), image)
    png.unlink()
    return out
