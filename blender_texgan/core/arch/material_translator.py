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
engine, without torch; engine/nets/material_translator.py builds exactly these parameters.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..maps import GENERATED_CHANNEL_COUNT
from .photo_translator import UNetConfig, unet_param_shapes

PERIODIC_RESIDUAL_UNET_V1 = "periodic_residual_unet_v1"
MAPS_CHANNELS = GENERATED_CHANNEL_COUNT
EDGE = 1e-3  # inputs are clamped to [EDGE, 1 - EDGE] before the logit, so 0 and 1 stay finite


@dataclass(frozen=True)
class MaterialTranslatorConfig(UNetConfig):
    """The photo translator's U-Net config (widths per level), narrower by default."""
    channels: tuple[int, ...] = (16, 32, 48, 64)


def material_translator_param_shapes(cfg: MaterialTranslatorConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of the material translator."""
    return unet_param_shapes(cfg, MAPS_CHANNELS, MAPS_CHANNELS)


def material_translator_config_from_manifest(arch) -> MaterialTranslatorConfig:
    """The manifest's {"name", "config"} -> config; ValueError (one line) when unknown or bad."""
    if not isinstance(arch, dict) or arch.get("name") != PERIODIC_RESIDUAL_UNET_V1:
        name = arch.get("name") if isinstance(arch, dict) else arch
        raise ValueError(f"unknown material translator architecture {name!r} (expected {PERIODIC_RESIDUAL_UNET_V1})")
    return MaterialTranslatorConfig.from_dict(arch.get("config"))


def logit(x: np.ndarray) -> np.ndarray:
    """The residual's base, as the nets compute it: logit of x clamped to [EDGE, 1 - EDGE]."""
    x = np.clip(np.asarray(x, np.float32), EDGE, 1.0 - EDGE)
    return np.log(x / (1.0 - x)).astype(np.float32)


def blend(x: np.ndarray, y: np.ndarray, strength: float) -> np.ndarray:
    """strength 0: x unchanged; 1: y (the full translation); between: a straight mix."""
    return (x + np.float32(strength) * (y - x)).astype(np.float32)
