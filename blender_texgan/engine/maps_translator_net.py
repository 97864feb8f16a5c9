"""The maps -> maps translator (core.maps_translator_arch) as a torch module, rebuilt from a model
file's manifest; the CycleGAN trainer builds on it, so an exported translator always loads here.
engine/numpy_maps_translator.py is its numpy twin (parity is a test)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..core.maps_translator_arch import EDGE, MAPS_CHANNELS, MapsTranslatorConfig
from .nets import periodic_conv, upsample2
from .translator_net import ConvPair


class PeriodicResidualUNet(nn.Module):
    """(B, 5, H, W) maps in [0, 1] -> (B, 5, H, W) translated maps in (0, 1); H and W multiples of
    cfg.multiple. Wrap-around everywhere: a periodic input gives a periodic output. The head starts
    at zero, so an untrained net is the identity (up to the EDGE clamp)."""

    def __init__(self, cfg: MapsTranslatorConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        widths = [MAPS_CHANNELS, *c]
        self.enc = nn.ModuleList(ConvPair(widths[i], widths[i + 1]) for i in range(len(c)))
        self.dec = nn.ModuleList(ConvPair(c[i + 1] + c[i], c[i]) for i in range(len(c) - 1))
        self.head = periodic_conv(c[0], MAPS_CHANNELS, k=1)
        nn.init.zeros_(self.head.weight)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        x = maps.clamp(EDGE, 1.0 - EDGE)
        base = torch.log(x / (1.0 - x))
        x = x * 2.0 - 1.0
        skips = []
        for i, block in enumerate(self.enc):
            if i:
                x = F.avg_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for i in reversed(range(len(self.dec))):
            x = upsample2(x, "bilinear")
            x = self.dec[i](torch.cat([x, skips[i]], dim=1))
        return torch.sigmoid(base + self.head(x))


def build_maps_translator(cfg: MapsTranslatorConfig) -> PeriodicResidualUNet:
    return PeriodicResidualUNet(cfg)
