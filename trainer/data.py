"""Training data: procedural presets or a folder of PBR texture sets, as (C, H, W) stacks in [0, 1].

The channel order is blender_texgan.core.maps.GENERATED_CHANNELS (albedo, height, roughness); the
normal map is not trained on because it is derived from height.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from blender_texgan.core.maps import stack_channels
from blender_texgan.core.png import write_png

from .procedural import PRESETS, make_material

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".exr"}

# File-name tag -> map name (Poly Haven, ambientCG, Poliigon and our own names).
MAP_TAGS = {
    "albedo": ("albedo", "basecolor", "base_color", "diffuse", "diff", "color", "col"),
    "normal": ("normal_gl", "nor_gl", "normal", "nrm", "nor"),
    "roughness": ("roughness", "rough"),
    "height": ("height", "displacement", "disp", "bump"),
}


class DataError(RuntimeError):
    """Nothing usable to train on; str() is one sentence."""


def write_material(out_dir: Path, name: str, maps: dict[str, np.ndarray]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_png(out_dir / f"{name}_{m}.png", arr, bits=16 if m == "height" else 8)
            for m, arr in maps.items()]


def preset_stacks(preset: str, count: int, size: int, seed: int = 0) -> list[np.ndarray]:
    return [stack_channels(make_material(preset, seed * 100_003 + i, size)) for i in range(count)]


def classify(path: Path) -> tuple[str, str] | None:
    """File -> (set name, map name) by its tag, or None when the tag is not a map we use."""
    stem = path.stem.lower()
    for map_name, tags in MAP_TAGS.items():
        for tag in tags:
            m = re.match(rf"^(?P<set>.+?)[_\-. ]{tag}(?:[_\-. ]?\d+k)?$", stem)
            if m:
                return m.group("set"), map_name
    return None


def _load_image(path: Path, channels: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(im, np.float32) / 65535.0
            arr = arr[..., None]
        else:
            arr = np.asarray(im.convert("RGB" if channels == 3 else "L"), np.float32) / 255.0
            if arr.ndim == 2:
                arr = arr[..., None]
    if channels == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if channels == 1 and arr.shape[2] == 3:
        arr = arr.mean(axis=2, keepdims=True)
    return arr


def folder_stacks(folder: Path) -> list[np.ndarray]:
    """Every PBR set (or lone albedo image) in a folder tree, as stacks; bad files are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"Data folder '{folder}' does not exist.")
    sets: dict[tuple[Path, str], dict[str, Path]] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        found = classify(path)
        set_name, map_name = found if found else (path.stem.lower(), "albedo")
        sets.setdefault((path.parent, set_name), {}).setdefault(map_name, path)
    stacks, skipped = [], []
    for (_, set_name), files in sets.items():
        if "albedo" not in files:
            continue
        try:
            albedo = _load_image(files["albedo"], 3)
            h, w, _ = albedo.shape
            if min(h, w) < 32:
                raise ValueError("smaller than 32 pixels")
            height = _load_image(files["height"], 1) if "height" in files else np.full((h, w, 1), 0.5, np.float32)
            rough = _load_image(files["roughness"], 1) if "roughness" in files else np.full((h, w, 1), 0.5, np.float32)
            if height.shape[:2] != (h, w) or rough.shape[:2] != (h, w):
                raise ValueError("maps of different sizes")
            stacks.append(stack_channels({"albedo": albedo, "height": height, "roughness": rough}))
        except Exception as exc:  # any unreadable file: skip it and say so once
            skipped.append(f"{files['albedo'].name} ({exc})")
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unusable texture set(s): {'; '.join(skipped)}")
    if not stacks:
        raise DataError(f"No usable textures in '{folder}': add PNG or JPEG files (optionally PBR sets "
                        "named like brick_albedo.png, brick_height.png, brick_roughness.png).")
    return stacks


class CropSampler:
    """Random wrap-around crops from a list of periodic stacks, as a float32 batch (B, C, h, w)."""

    def __init__(self, stacks: list[np.ndarray], crop: int, seed: int = 0):
        self.stacks = [s for s in stacks if min(s.shape[1:]) >= crop]
        if not self.stacks:
            raise DataError(f"Every texture is smaller than the crop size {crop}.")
        self.crop = crop
        self.rng = np.random.default_rng(seed)

    def sample(self, batch: int) -> np.ndarray:
        out = np.empty((batch, self.stacks[0].shape[0], self.crop, self.crop), np.float32)
        for b in range(batch):
            s = self.stacks[self.rng.integers(len(self.stacks))]
            _, h, w = s.shape
            y, x = self.rng.integers(h), self.rng.integers(w)
            rolled = np.roll(s, (-y, -x), axis=(1, 2))
            out[b] = rolled[:, :self.crop, :self.crop]
            if self.rng.random() < 0.5:  # mirror: keeps periodicity and the normal convention
                out[b] = out[b][:, :, ::-1]
        return out


def load_stacks(preset: str | None, data: Path | None, count: int, size: int, seed: int) -> list[np.ndarray]:
    if data is not None:
        return folder_stacks(data)
    if preset not in PRESETS:
        raise DataError(f"Unknown preset '{preset}': choose from {', '.join(PRESETS)}.")
    return preset_stacks(preset, count, size, seed)
