"""A material held as the integers its PNGs store, gathered band by band.

A 5-channel float32 stack of an 8192 px material is 1.3 GB, and a whole MapSet with its normal
2.1 GB; work that streams through a material in bands of rows (engine.material_translation) keeps it as
16-bit channels instead (a 16-bit PNG's precision: 0.67 GB) and gathers its result as the 8- and
16-bit maps it writes:

    stack = quantise_stack(maps)                    # {name: (H, W, c) float} -> (H, W, 5) uint16
    band = dequantise(stack[y0:y1])                 # (n, W, 5) float32 in [0, 1]
    out = QuantisedMaps(height, width, normal_strength)
    out.put(y0, band)                               # any order, every row once
    maps = out.finish()                             # {name: uint8 / uint16 array} for core.png

Quantising here is what core.png.encode_png does to a float map, so a map set gathered in bands
writes the same files as the float MapSet would.
"""
from __future__ import annotations

import numpy as np

from .maps import GENERATED_CHANNELS, PBR_MAPS
from .normals import normal_from_height

TOP = {8: 255, 16: 65535}
BITS = {spec.name: 16 if spec.name == "height" else 8 for spec in PBR_MAPS}  # what each map's PNG holds
CHANNELS = {name: count for name, count in GENERATED_CHANNELS}
BAND_VALUES = 1 << 21  # values quantised at a time (8 MB of float32)


def quantise(image: np.ndarray, bits: int) -> np.ndarray:
    """Float values in [0, 1] -> uint8 / uint16, rounded to nearest (encode_png's rule), a band of
    rows at a time (no full-size float temporaries: an 8192 px albedo's would be 0.8 GB each)."""
    a = np.asarray(image)
    kind = np.uint16 if bits == 16 else np.uint8
    if a.ndim == 0 or a.size <= BAND_VALUES:
        return np.rint(np.clip(a.astype(np.float32), 0.0, 1.0) * np.float32(TOP[bits])).astype(kind)
    out = np.empty(a.shape, kind)
    rows = max(1, BAND_VALUES // a[:1].size)
    for r0 in range(0, a.shape[0], rows):
        part = np.clip(a[r0:r0 + rows].astype(np.float32), 0.0, 1.0)
        part *= np.float32(TOP[bits])
        out[r0:r0 + rows] = np.rint(part, out=part)
    return out


def dequantise(stack: np.ndarray) -> np.ndarray:
    """uint16 -> float32 in [0, 1]."""
    return stack.astype(np.float32) * np.float32(1.0 / TOP[16])


def quantise_stack(maps: dict[str, np.ndarray], consume: bool = False) -> np.ndarray:
    """{albedo, height, roughness: (H, W, c) float} -> (H, W, 5) uint16 in GENERATED_CHANNELS
    order, map by map (no float copy of the whole stack); consume: each map leaves `maps` (and
    its memory, when nothing else holds it) as soon as it is stored."""
    shape = maps[GENERATED_CHANNELS[0][0]].shape[:2]
    out = np.empty(shape + (sum(CHANNELS.values()),), np.uint16)
    start = 0
    for name, count in GENERATED_CHANNELS:
        out[..., start:start + count] = quantise(np.asarray(maps[name]).reshape(shape + (count,)), 16)
        if consume:
            del maps[name]
        start += count
    return out


class QuantisedMaps:
    """A PBR map set gathered from (n, W, 5) float bands of GENERATED_CHANNELS: albedo and
    roughness kept as 8-bit, height as float32 until finish() derives the normal from it (a
    three-point stencil that wraps: each band reads one row beyond it) and stores it as 16-bit."""

    def __init__(self, height: int, width: int, normal_strength: float):
        self.shape, self.normal_strength = (height, width), float(normal_strength)
        self.albedo = np.empty((height, width, 3), np.uint8)
        self.roughness = np.empty((height, width, 1), np.uint8)
        self.height = np.empty((height, width), np.float32)

    def put(self, y0: int, band: np.ndarray) -> None:
        rows = slice(y0, y0 + band.shape[0])
        self.albedo[rows] = quantise(band[..., 0:3], 8)
        self.height[rows] = np.clip(band[..., 3], 0.0, 1.0)
        self.roughness[rows] = quantise(band[..., 4:5], 8)

    def finish(self, band: int = 512) -> dict[str, np.ndarray]:
        """{name: uint8 (H, W, c) or uint16 height} in PBR_MAPS order."""
        h, w = self.shape
        normal = np.empty((h, w, 3), np.uint8)
        for y0 in range(0, h, band):
            n = min(band, h - y0)
            rows = np.arange(y0 - 1, y0 + n + 1) % h
            normal[y0:y0 + n] = quantise(normal_from_height(self.height[rows], self.normal_strength)[1:-1], 8)
        maps = {"albedo": self.albedo, "normal": normal, "roughness": self.roughness,
                "height": quantise(self.height, 16)[..., None]}
        self.height = None
        return {spec.name: maps[spec.name] for spec in PBR_MAPS}
