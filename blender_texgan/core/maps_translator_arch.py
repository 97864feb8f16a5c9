"""The maps -> maps translation network (material translation, e.g. clean -> rusty metal), described
without torch.

It reads and writes the generator's 5-channel stack (core.maps.GENERATED_CHANNELS: albedo 3, height 1,
roughness 1, values in [0, 1]), so all maps move together and the normal is derived from the
translated height afterwards. A small U-Net with circular padding everywhere and no normalisation
layers (a periodic input gives a periodic output), whose output is a residual in logit space:

    y = sigmoid(logit(x) + head(...))

so a zero head is the identity (training starts from "change nothing") and y stays in (0, 1).

    x (5, H, W) -> enc0 .. encL (two 3x3 convs each; 2x2 average pooling between levels)
      -> dec(L-1) .. dec0 (x2 bilinear-wrap upsampling, concatenate the skip, two 3x3 convs)
      -> 1x1 head (5 channels, the change in logits)

Parameter names and shapes are listed here so a model file can be validated, and run by the numpy
engine, without torch; engine/maps_translator_net.py builds exactly these parameters.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .maps import GENERATED_CHANNEL_COUNT

PERIODIC_RESIDUAL_UNET_V1 = "periodic_residual_unet_v1"
MAPS_CHANNELS = GENERATED_CHANNEL_COUNT
EDGE = 1e-3  # inputs are clamped to [EDGE, 1 - EDGE] before the logit, so 0 and 1 stay finite


@dataclass(frozen=True)
class MapsTranslatorConfig:
    channels: tuple[int, ...] = (16, 32, 48, 64)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this."""
        return 2 ** (len(self.channels) - 1)

    def to_dict(self) -> dict:
        return {"channels": list(self.channels)}

    @classmethod
    def from_dict(cls, d) -> "MapsTranslatorConfig":
        if not isinstance(d, dict) or set(d) != {"channels"}:
            raise ValueError("bad architecture config (expected exactly {'channels': [...]})")
        ch = d["channels"]
        if (not isinstance(ch, list) or not 2 <= len(ch) <= 7
                or not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 1024 for c in ch)):
            raise ValueError("bad architecture config (channels must be 2 to 7 widths from 1 to 1024)")
        return cls(tuple(ch))


def maps_translator_param_shapes(cfg: MapsTranslatorConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of the maps translator."""
    shapes: dict[str, tuple[int, ...]] = {}
    c = cfg.channels

    def conv(name: str, c_in: int, c_out: int, k: int = 3) -> None:
        shapes[f"{name}.weight"] = (c_out, c_in, k, k)
        shapes[f"{name}.bias"] = (c_out,)

    prev = MAPS_CHANNELS
    for i, width in enumerate(c):
        conv(f"enc.{i}.conv1", prev, width)
        conv(f"enc.{i}.conv2", width, width)
        prev = width
    for i in reversed(range(len(c) - 1)):
        conv(f"dec.{i}.conv1", prev + c[i], c[i])
        conv(f"dec.{i}.conv2", c[i], c[i])
        prev = c[i]
    conv("head", prev, MAPS_CHANNELS, k=1)
    return shapes


def maps_translator_config_from_manifest(arch) -> MapsTranslatorConfig:
    """The manifest's {"name", "config"} -> config; ValueError (one line) when unknown or bad."""
    if not isinstance(arch, dict) or arch.get("name") != PERIODIC_RESIDUAL_UNET_V1:
        name = arch.get("name") if isinstance(arch, dict) else arch
        raise ValueError(f"unknown maps translator architecture {name!r} (expected {PERIODIC_RESIDUAL_UNET_V1})")
    return MapsTranslatorConfig.from_dict(arch.get("config"))


def logit(x: np.ndarray) -> np.ndarray:
    """The residual's base, as the nets compute it: logit of x clamped to [EDGE, 1 - EDGE]."""
    x = np.clip(np.asarray(x, np.float32), EDGE, 1.0 - EDGE)
    return np.log(x / (1.0 - x)).astype(np.float32)


def blend(x: np.ndarray, y: np.ndarray, strength: float) -> np.ndarray:
    """strength 0: x unchanged; 1: y (the full translation); between: a straight mix."""
    return (x + np.float32(strength) * (y - x)).astype(np.float32)
