"""Numpy maps -> Blender image datablocks (colour space first, then pixels, then pack)."""
from __future__ import annotations

import bpy
import numpy as np


def image_from_array(name: str, array: np.ndarray, colorspace: str, float_buffer: bool = False) -> bpy.types.Image:
    """A packed image datablock from an (H, W, C) float array in [0, 1], rows top to bottom.

    The colour space is set before the pixels are written: changing it afterwards on a generated
    image drops the written pixels.
    """
    h, w = array.shape[:2]
    rgba = np.ones((h, w, 4), np.float32)
    c = array.shape[2]
    rgba[..., :3] = array if c == 3 else np.repeat(array[..., :1], 3, axis=-1)
    image = bpy.data.images.new(name, width=w, height=h, alpha=False, float_buffer=float_buffer)
    try:
        image.colorspace_settings.name = colorspace
        image.pixels.foreach_set(rgba[::-1].ravel())  # Blender stores rows bottom to top
        image.update()
        image.pack()
    except Exception:
        bpy.data.images.remove(image)
        raise
    return image
