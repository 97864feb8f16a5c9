"""Everything done to a MapSet before Blender sees it, kept off Blender's main thread: the normal
convention, and (for packing) PNG encoding, so the main thread only copies bytes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .options import MaterialOptions
from .png import encode_png

PACK_BITS = {"albedo": 8, "normal": 8, "roughness": 8, "height": 16}
# zlib level for packed maps: 0 (stored). Measured on 2048x2048 maps of a bundled model, level 1
# took 9x longer (1.5 s vs 0.17 s) for 18% smaller files: generated texture noise hardly compresses.
# Saving with File > Compress shrinks the whole .blend instead.
PACK_COMPRESSION = 0


@dataclass
class PreparedMaps:
    maps: dict[str, np.ndarray]          # in the convention the images will hold
    png: dict[str, bytes] | None = None  # encoded maps; always set when options.output == "PACK"


def prepare_maps(maps: dict[str, np.ndarray], options: MaterialOptions) -> PreparedMaps:
    maps = dict(maps)
    if options.normal_convention == "DIRECTX":
        normal = maps["normal"].copy()
        normal[..., 1] = 1.0 - normal[..., 1]
        maps["normal"] = normal
    png = None
    if options.output == "PACK":
        png = {name: encode_png(arr if arr.shape[2] != 1 else arr[..., 0], PACK_BITS[name], PACK_COMPRESSION)
               for name, arr in maps.items()}
    return PreparedMaps(maps, png)
