"""The PBR maps a model produces, and conversion of raw network output into a MapSet.

A MapSet is a plain dict: map name -> float32 array of shape (H, W, C) with values in [0, 1].
Networks output the *independent* channels (albedo, height, roughness); the normal map is always
derived from the height map (see normals.py), so the two agree by construction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .normals import normal_from_height

SRGB = "sRGB"
NON_COLOR = "Non-Color"


@dataclass(frozen=True)
class MapSpec:
    name: str
    channels: int
    colorspace: str


ALBEDO = MapSpec("albedo", 3, SRGB)
NORMAL = MapSpec("normal", 3, NON_COLOR)
ROUGHNESS = MapSpec("roughness", 1, NON_COLOR)
HEIGHT = MapSpec("height", 1, NON_COLOR)

# Order of the maps in a full PBR set (and of their files on disk).
PBR_MAPS: tuple[MapSpec, ...] = (ALBEDO, NORMAL, ROUGHNESS, HEIGHT)
MAP_BY_NAME = {m.name: m for m in PBR_MAPS}

# Channels a generator outputs, in order; the normal map is derived from height.
GENERATED_CHANNELS: tuple[tuple[str, int], ...] = (("albedo", 3), ("height", 1), ("roughness", 1))
GENERATED_CHANNEL_COUNT = sum(c for _, c in GENERATED_CHANNELS)

MapSet = dict  # name -> float32 (H, W, C) in [0, 1]


def split_channels(stack: np.ndarray) -> dict[str, np.ndarray]:
    """(C, H, W) network output in [0, 1] -> {name: (H, W, c)} for GENERATED_CHANNELS."""
    if stack.ndim != 3 or stack.shape[0] != GENERATED_CHANNEL_COUNT:
        raise ValueError(f"expected ({GENERATED_CHANNEL_COUNT}, H, W), got {stack.shape}")
    out, start = {}, 0
    for name, count in GENERATED_CHANNELS:
        out[name] = np.ascontiguousarray(np.moveaxis(stack[start:start + count], 0, -1), np.float32)
        start += count
    return out


def stack_channels(maps: dict[str, np.ndarray]) -> np.ndarray:
    """Inverse of split_channels: {name: (H, W, c)} -> (C, H, W) float32."""
    return np.concatenate([np.moveaxis(maps[name], -1, 0) for name, _ in GENERATED_CHANNELS]).astype(np.float32)


def complete_map_set(maps: dict[str, np.ndarray], normal_strength: float) -> MapSet:
    """Add the normal map (derived from height) and return the maps in PBR order."""
    maps = dict(maps)
    maps["normal"] = normal_from_height(maps["height"][..., 0], normal_strength)
    return {spec.name: np.clip(maps[spec.name], 0.0, 1.0).astype(np.float32) for spec in PBR_MAPS}


def check_exemplar(exemplar, min_side: int, channels: int | None = None) -> np.ndarray:
    """An exemplar stack as float32 (H, W, C), or a ValueError naming what is wrong with it:
    not 3-D, the wrong channel count (when `channels` is given), a side under `min_side`, NaN."""
    a = np.asarray(exemplar, np.float32)
    if a.ndim != 3 or a.shape[2] < 1 or (channels is not None and a.shape[2] != channels):
        raise ValueError(f"expected an (H, W, {channels or 'C'}) exemplar stack, got shape {a.shape}")
    if min(a.shape[:2]) < min_side:
        raise ValueError(f"exemplar of {a.shape[0]}x{a.shape[1]} px is too small (at least {min_side} a side)")
    if not np.isfinite(a).all():
        raise ValueError("exemplar holds NaN or infinite values")
    return a
