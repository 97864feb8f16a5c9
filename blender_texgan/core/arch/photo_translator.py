"""The photo -> maps translation network, described without torch.

A U-Net with circular padding everywhere (a periodic input gives a periodic output) and no
normalisation layers (each output pixel depends only on a bounded window, so tiled inference
with overlapping tiles matches one pass). Parameter names and shapes are listed here so a model
file can be validated, and run by the numpy engine, without torch; engine/nets/photo_translator.py builds
exactly these parameters and a test keeps the two in step.

    x (6, H, W): photo (3) + light direction (3 constant planes) -> enc0 .. encL (two 3x3 convs each; 2x2 average pooling between levels)
      -> dec(L-1) .. dec0 (x2 bilinear-wrap upsampling, concatenate the skip, two 3x3 convs)
      -> 1x1 head -> OUTPUT_CHANNELS: albedo (3), normal (3), height (1), roughness (1)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PERIODIC_UNET_V1 = "periodic_unet_v1"
PHOTO_CHANNELS = 3
# The light's direction (unit vector, OpenGL tangent space: +Y up the image) enters as three
# constant planes. Knowing it, the net reads relief from shading quickly; a photo's light is found
# by trying candidates (engine.photo.translate.estimate_light).
LIGHT_CHANNELS = 3
INPUT_CHANNELS = PHOTO_CHANNELS + LIGHT_CHANNELS
# Output channels in order. The normal is predicted directly (unit vector, OpenGL, +Y up), not
# derived from the height: the normal map is what shading shows, the height is for displacement.
OUTPUT_LAYOUT: tuple[tuple[str, int], ...] = (("albedo", 3), ("normal", 3), ("height", 1), ("roughness", 1))
OUTPUT_CHANNELS = sum(c for _, c in OUTPUT_LAYOUT)


@dataclass(frozen=True)
class UNetConfig:
    channels: tuple[int, ...] = (32, 64, 96, 128, 160)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this."""
        return 2 ** (len(self.channels) - 1)

    @property
    def context(self) -> int:
        """Pixels of context each side that an output pixel depends on: every 3x3 conv at level i
        reaches 2**i pixels further, every pooling or upsampling step about as far again."""
        levels = len(self.channels)
        return 3 * (2 ** levels - 1) + 3 * (2 ** (levels - 1) - 1)

    def to_dict(self) -> dict:
        return {"channels": list(self.channels)}

    @classmethod
    def from_dict(cls, d) -> "UNetConfig":
        if not isinstance(d, dict) or set(d) != {"channels"}:
            raise ValueError("bad architecture config (expected exactly {'channels': [...]})")
        ch = d["channels"]
        if (not isinstance(ch, list) or not 2 <= len(ch) <= 7
                or not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 1024 for c in ch)):
            raise ValueError("bad architecture config (channels must be 2 to 7 widths from 1 to 1024)")
        return cls(tuple(ch))


def unet_param_shapes(cfg: UNetConfig, in_channels: int = INPUT_CHANNELS,
                      out_channels: int = OUTPUT_CHANNELS) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of the U-Net (the photo translator's channels unless told;
    the material translator's are core.arch.material_translator's)."""
    shapes: dict[str, tuple[int, ...]] = {}
    c = cfg.channels

    def conv(name: str, c_in: int, c_out: int, k: int = 3) -> None:
        shapes[f"{name}.weight"] = (c_out, c_in, k, k)
        shapes[f"{name}.bias"] = (c_out,)

    prev = in_channels
    for i, width in enumerate(c):
        conv(f"enc.{i}.conv1", prev, width)
        conv(f"enc.{i}.conv2", width, width)
        prev = width
    for i in reversed(range(len(c) - 1)):
        conv(f"dec.{i}.conv1", prev + c[i], c[i])
        conv(f"dec.{i}.conv2", c[i], c[i])
        prev = c[i]
    conv("head", prev, out_channels, k=1)
    return shapes


def translator_config_from_manifest(arch) -> UNetConfig:
    """The manifest's {"name", "config"} -> config; ValueError (one line) when unknown or bad."""
    if not isinstance(arch, dict) or arch.get("name") != PERIODIC_UNET_V1:
        raise ValueError(f"unknown translator architecture {arch.get('name') if isinstance(arch, dict) else arch!r}")
    return UNetConfig.from_dict(arch.get("config"))


MIN_MEAN = 0.02  # a black photo is not scaled up without bound


def photo_scale(mean: float) -> float:
    """Exposure is removed by dividing by the photo's mean (of the whole photo, never per tile, so
    tiles agree): input = photo * scale - 0.5."""
    return 0.5 / max(float(mean), MIN_MEAN)


def net_input(photo: np.ndarray, scale: float, light) -> np.ndarray:
    """(H, W, 3) sRGB photo, photo_scale of the whole photo, light (3,) -> (H, W, 6) net input."""
    h, w = photo.shape[:2]
    planes = np.broadcast_to(np.asarray(light, np.float32), (h, w, LIGHT_CHANNELS))
    return np.concatenate([photo * np.float32(scale) - 0.5, planes], axis=-1).astype(np.float32)


def light_direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], np.float32)


# The lights a photo is tried under when its light is not known: 8 directions, 2 heights.
CANDIDATE_LIGHTS = tuple(light_direction(az, el) for el in (35.0, 65.0) for az in range(0, 360, 45))

# The net only ever sees light from azimuths 0-45 degrees (a wedge): any photo is first turned by
# one of the 8 symmetries of the square so that its light falls there, and the maps are turned back.
WEDGE_DEG = 45.0


def turn_image(a: np.ndarray, k: int) -> np.ndarray:
    """Symmetry k (0-7) of an (H, W, ...) array: transposed (k & 4), then flipped left-right
    (k & 1), then top-bottom (k & 2). Vectors in it are not changed: see turn_vectors."""
    if k & 4:
        a = a.swapaxes(0, 1)
    if k & 1:
        a = a[:, ::-1]
    if k & 2:
        a = a[::-1]
    return a


def turn_vectors(v: np.ndarray, k: int) -> np.ndarray:
    """Tangent-space vectors (..., 3) turned with turn_image(., k). +Y points towards row 0, so a
    transpose maps (x, y) to (-y, -x); a left-right flip negates x, a top-bottom flip negates y."""
    v = np.array(v, np.float32, copy=True)
    if k & 4:
        v[..., [0, 1]] = -v[..., [1, 0]]
    if k & 1:
        v[..., 0] *= -1
    if k & 2:
        v[..., 1] *= -1
    return v


def unturn_image(a: np.ndarray, k: int) -> np.ndarray:
    """The inverse of turn_image(., k)."""
    if k & 2:
        a = a[::-1]
    if k & 1:
        a = a[:, ::-1]
    if k & 4:
        a = a.swapaxes(0, 1)
    return a


def unturn_vectors(v: np.ndarray, k: int) -> np.ndarray:
    """The inverse of turn_vectors(., k)."""
    v = np.array(v, np.float32, copy=True)
    if k & 2:
        v[..., 1] *= -1
    if k & 1:
        v[..., 0] *= -1
    if k & 4:
        v[..., [0, 1]] = -v[..., [1, 0]]
    return v


def wedge_turn(light) -> int:
    """The symmetry that brings the light's azimuth into [0, WEDGE_DEG] degrees."""
    for k in range(8):
        x, y = turn_vectors(np.asarray(light, np.float32), k)[:2]
        if 0.0 <= np.degrees(np.arctan2(y, x)) % 360.0 <= WEDGE_DEG + 1e-3:
            return k
    raise ValueError(f"no symmetry turns light {light!r} into the wedge")  # unreachable for finite lights
