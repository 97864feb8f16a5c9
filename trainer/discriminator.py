"""Patch discriminator: spectral-normalised, circular padding, one logit per receptive-field patch."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from blender_texgan.engine.nets.generator import PeriodicConv2d


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels: int, width: int = 32, depth: int = 4):
        super().__init__()
        layers: list[nn.Module] = []
        c_in, c = in_channels, width
        for _ in range(depth):
            layers += [spectral_norm(PeriodicConv2d(c_in, c, 4, stride=2, padding=1)),
                       nn.LeakyReLU(0.2)]
            c_in, c = c, min(c * 2, 256)
        layers.append(spectral_norm(PeriodicConv2d(c_in, 1, 3)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2.0 - 1.0)
