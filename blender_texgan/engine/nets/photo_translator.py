"""The translator U-Net as a torch module, rebuilt from a model file's manifest. The trainer builds
on it, so an exported translator always loads here. Parameter names and shapes match
core.arch.photo_translator.unet_param_shapes; engine/nets/numpy_unet.py is its numpy twin."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...core.arch.photo_translator import INPUT_CHANNELS, OUTPUT_CHANNELS, UNetConfig
from .generator import periodic_conv, upsample2


class ConvPair(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = periodic_conv(c_in, c_out)
        self.conv2 = periodic_conv(c_out, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv1(x), 0.2)
        return F.leaky_relu(self.conv2(x), 0.2)


class PeriodicUNet(nn.Module):
    """(B, 6, H, W) prepared photo and light -> (B, 8, H, W) raw outputs (see finish_outputs); H and
    W are multiples of cfg.multiple. Wrap-around everywhere: a periodic input gives a periodic output.
    Other channel counts make the material translator's trunk (material_translator)."""

    def __init__(self, cfg: UNetConfig, in_channels: int = INPUT_CHANNELS, out_channels: int = OUTPUT_CHANNELS):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        widths = [in_channels, *c]
        self.enc = nn.ModuleList(ConvPair(widths[i], widths[i + 1]) for i in range(len(c)))
        # dec.i sits at level i; built in the order they run (deepest first), indexed by level.
        self.dec = nn.ModuleList(ConvPair(c[i + 1] + c[i], c[i]) for i in range(len(c) - 1))
        self.head = periodic_conv(c[0], out_channels, k=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.enc):
            if i:
                x = F.avg_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for i in reversed(range(len(self.dec))):
            x = upsample2(x, "bilinear")
            x = self.dec[i](torch.cat([x, skips[i]], dim=1))
        return self.head(x)


def finish_outputs(raw: torch.Tensor) -> torch.Tensor:
    """Raw head outputs -> albedo, unit normal (as vectors, z >= 0), height, roughness."""
    albedo = torch.sigmoid(raw[:, 0:3])
    n = raw[:, 3:6] + torch.tensor([0.0, 0.0, 1.0], device=raw.device, dtype=raw.dtype).view(1, 3, 1, 1)
    n = torch.cat([n[:, :2], F.softplus(n[:, 2:3]) + 1e-3], dim=1)
    n = n / n.norm(dim=1, keepdim=True)
    return torch.cat([albedo, n, torch.sigmoid(raw[:, 6:8])], dim=1)


def build_translator(cfg: UNetConfig) -> PeriodicUNet:
    return PeriodicUNet(cfg)
