"""Photographic PBR sets with their real normal and ambient-occlusion maps, for training and
measuring translators (photo -> maps).

    sets = load_pbr_sets("../shared/data/cc0", max_side=1024)
    s = sets[0]; s.name, s.albedo (H, W, 3), s.normal (H, W, 3 unit vectors, OpenGL), s.height,
    s.roughness, s.ao (H, W)

A set needs an albedo and a normal map; height is integrated from the normal when missing, AO is 1
when missing, roughness comes from the roughness, ARM or gloss map (0.5 when none), as for
generators (trainer.folder).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blender_texgan.core.texture_names import group_texture_sets, is_image_file

from .folder import DEFAULT_MAX_PIXELS, _grey, _load_set, read_image, resize


@dataclass
class PbrSet:
    name: str
    albedo: np.ndarray      # (H, W, 3) sRGB in [0, 1]
    normal: np.ndarray      # (H, W, 3) unit vectors, OpenGL (+Y up, towards row 0)
    height: np.ndarray      # (H, W) in [0, 1]
    roughness: np.ndarray   # (H, W) in [0, 1]
    ao: np.ndarray          # (H, W) in [0, 1]

    def shrink(self, factor: int) -> "PbrSet":
        """Every map shrunk by an integer factor (area average; normals renormalised)."""
        if factor == 1:
            return self

        def down(a: np.ndarray) -> np.ndarray:
            h, w = a.shape[0] // factor * factor, a.shape[1] // factor * factor
            a = a[:h, :w]
            return a.reshape(h // factor, factor, w // factor, factor, *a.shape[2:]).mean(axis=(1, 3))

        n = down(self.normal)
        n /= np.linalg.norm(n, axis=-1, keepdims=True) + 1e-8
        return PbrSet(self.name, down(self.albedo), n.astype(np.float32), down(self.height),
                      down(self.roughness), down(self.ao))


def _decode_normal(encoded: np.ndarray, directx: bool) -> np.ndarray:
    n = encoded[..., :3] * 2.0 - 1.0
    if directx:
        n[..., 1] *= -1.0
    n[..., 2] = np.maximum(n[..., 2], 0.1)  # the folder loader's slope clamp
    return (n / np.linalg.norm(n, axis=-1, keepdims=True)).astype(np.float32)


def load_pbr_set(name: str, files: dict[str, os.PathLike], max_side: int = 1024) -> PbrSet:
    """One set's maps, all at the albedo's size shrunk to at most max_side."""
    problems: list[str] = []
    stack, _, _, _ = _load_set(files, str, DEFAULT_MAX_PIXELS, problems)
    h, w = stack.shape[1:]
    directx = "normal_gl" not in files
    normal = _decode_normal(resize(read_image(files["normal_gl" if not directx else "normal_dx"]), h, w), directx)
    if "ao" in files:
        ao = _grey(resize(read_image(files["ao"]), h, w))[..., 0]
    elif "arm" in files:
        ao = resize(read_image(files["arm"]), h, w)[..., 0]
    else:
        ao = np.ones((h, w), np.float32)
    full = PbrSet(name, stack[:3].transpose(1, 2, 0).copy(), normal, stack[3].copy(), stack[4].copy(),
                  ao.astype(np.float32))
    factor = 1
    while max(h, w) // factor > max_side:
        factor *= 2
    return full.shrink(factor)


def find_pbr_sets(root: str | os.PathLike) -> dict[str, dict[str, Path]]:
    """Set name -> its map files, for every set under root that has an albedo and a normal map."""
    paths = [p for p in sorted(Path(root).rglob("*")) if p.is_file() and is_image_file(p)]
    found = {}
    for key, maps in group_texture_sets(paths).items():
        if "albedo" in maps and ("normal_gl" in maps or "normal_dx" in maps):
            found[Path(key).parent.name if Path(key).parent != Path(root) else Path(key).name] = maps
    return found


def load_pbr_sets(root: str | os.PathLike, names=None, max_side: int = 1024) -> list[PbrSet]:
    """The sets under root (only `names`, if given), sorted by name."""
    found = find_pbr_sets(root)
    if names is not None:
        missing = sorted(set(names) - set(found))
        if missing:
            raise ValueError(f"no PBR set named {', '.join(missing)} under '{root}' (have {', '.join(sorted(found))})")
        found = {n: found[n] for n in names}
    return [load_pbr_set(n, found[n], max_side) for n in sorted(found)]
