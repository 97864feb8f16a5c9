"""The photo -> maps translation network, described without torch.

A U-Net with circular padding everywhere (a periodic input gives a periodic output) and no
normalisation layers (each output pixel depends only on a bounded window, so tiled inference
with overlapping tiles matches one pass). Parameter names and shapes are listed here so a model
file can be validated, and run by the numpy engine, without torch; engine/translator_net.py builds
exactly these parameters and a test keeps the two in step.

    x (3, H, W) photo -> enc0 .. encL (two 3x3 convs each; 2x2 average pooling between levels)
      -> dec(L-1) .. dec0 (x2 bilinear-wrap upsampling, concatenate the skip, two 3x3 convs)
      -> 1x1 head -> OUTPUT_CHANNELS: albedo (3), normal (3), height (1), roughness (1)
"""
from __future__ import annotations

from dataclasses import dataclass

PERIODIC_UNET_V1 = "periodic_unet_v1"
INPUT_CHANNELS = 3
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


def unet_param_shapes(cfg: UNetConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of the translator."""
    shapes: dict[str, tuple[int, ...]] = {}
    c = cfg.channels

    def conv(name: str, c_in: int, c_out: int, k: int = 3) -> None:
        shapes[f"{name}.weight"] = (c_out, c_in, k, k)
        shapes[f"{name}.bias"] = (c_out,)

    prev = INPUT_CHANNELS
    for i, width in enumerate(c):
        conv(f"enc.{i}.conv1", prev, width)
        conv(f"enc.{i}.conv2", width, width)
        prev = width
    for i in reversed(range(len(c) - 1)):
        conv(f"dec.{i}.conv1", prev + c[i], c[i])
        conv(f"dec.{i}.conv2", c[i], c[i])
        prev = c[i]
    conv("head", prev, OUTPUT_CHANNELS, k=1)
    return shapes


def translator_config_from_manifest(arch) -> UNetConfig:
    """The manifest's {"name", "config"} -> config; ValueError (one line) when unknown or bad."""
    if not isinstance(arch, dict) or arch.get("name") != PERIODIC_UNET_V1:
        raise ValueError(f"unknown translator architecture {arch.get('name') if isinstance(arch, dict) else arch!r}")
    return UNetConfig.from_dict(arch.get("config"))


MIN_MEAN = 0.02  # a black photo is not scaled up without bound


def prepare_photo(photo, mean):
    """sRGB photo (numpy or torch) -> the net's input: exposure removed by dividing by the photo's
    mean, clamped to MIN_MEAN (of the whole photo, never per tile, so tiles agree), centred on 0."""
    return photo * (0.5 / mean) - 0.5
