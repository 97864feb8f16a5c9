"""The maps -> material translator (core.arch.material_translator) as a torch module, rebuilt from a model
file's manifest; the CycleGAN trainer builds on it, so an exported translator always loads here.
engine/nets/numpy_material_translator.py is its numpy twin (parity is a test)."""
from __future__ import annotations

import torch
from torch import nn

from ...core.arch.material_translator import EDGE, MAPS_CHANNELS, MaterialTranslatorConfig
from .photo_translator import PeriodicUNet


class PeriodicResidualUNet(PeriodicUNet):
    """(B, 5, H, W) maps in [0, 1] -> (B, 5, H, W) translated maps in (0, 1); H and W multiples of
    cfg.multiple. The photo translator's U-Net (wrap-around everywhere: a periodic input gives a
    periodic output) adds its head to the input's logits. The head starts at zero, so an untrained
    net is the identity (up to the EDGE clamp)."""

    def __init__(self, cfg: MaterialTranslatorConfig):
        super().__init__(cfg, MAPS_CHANNELS, MAPS_CHANNELS)
        nn.init.zeros_(self.head.weight)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        x = maps.clamp(EDGE, 1.0 - EDGE)
        base = torch.log(x / (1.0 - x))
        return torch.sigmoid(base + super().forward(x * 2.0 - 1.0))


def build_material_translator(cfg: MaterialTranslatorConfig) -> PeriodicResidualUNet:
    return PeriodicResidualUNet(cfg)
