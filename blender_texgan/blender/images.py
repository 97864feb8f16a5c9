"""Numpy maps -> Blender image datablocks: packed into the .blend, or saved next to it."""
from __future__ import annotations

import os
from pathlib import Path

import bpy
import numpy as np

from ..core.png import write_png


class OutputError(RuntimeError):
    """Maps cannot be written where asked; str() is one sentence."""


def _rgba(array: np.ndarray) -> np.ndarray:
    h, w = array.shape[:2]
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = array if array.shape[2] == 3 else np.repeat(array[..., :1], 3, axis=-1)
    return rgba[::-1].ravel()  # Blender stores rows bottom to top


def image_from_png(name: str, data: bytes, colorspace: str, file_name: str) -> bpy.types.Image:
    """A packed image whose data is already-encoded PNG bytes: the main thread only copies them
    (Blender decodes on first use). `file_name` is where Unpack would write it, beside the .blend."""
    image = bpy.data.images.new(name, width=8, height=8, alpha=False)
    try:
        image.source = "FILE"
        image.filepath_raw = f"//textures/{file_name}"
        image.pack(data=data, data_len=len(data))
        image.colorspace_settings.name = colorspace
    except Exception:
        bpy.data.images.remove(image)
        raise
    return image


def saved_image(name: str, array: np.ndarray, colorspace: str, path: Path, bits: int = 8,
                exr: bool = False) -> bpy.types.Image:
    """Write the map to `path` (PNG of `bits`, or OpenEXR), load it with a relative path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if exr:
        h, w = array.shape[:2]
        tmp = bpy.data.images.new(name + " (saving)", width=w, height=h, alpha=False, float_buffer=True)
        try:
            tmp.colorspace_settings.name = colorspace
            tmp.pixels.foreach_set(_rgba(array))
            tmp.filepath_raw = str(path)
            tmp.file_format = "OPEN_EXR"
            tmp.save()
        finally:
            bpy.data.images.remove(tmp)
    else:
        write_png(path, array if array.shape[2] != 1 else array[..., 0], bits=bits)
    image = bpy.data.images.load(str(path), check_existing=False)
    image.name = name
    image.colorspace_settings.name = colorspace
    try:
        image.filepath = bpy.path.relpath(str(path))
    except ValueError:  # another drive on Windows: keep the absolute path
        image.filepath = str(path)
    return image


def textures_folder() -> Path:
    """`textures/` next to the saved .blend; a clear error when the .blend has no file yet."""
    if not bpy.data.filepath:
        raise OutputError("Save the .blend file first: textures are saved next to it (or choose Pack).")
    return Path(os.path.dirname(bpy.data.filepath)) / "textures"
