"""Torch modules rebuilt from a model file's manifest. The trainer builds on these, so an exported
model always loads here. Parameter names and shapes match core.arch.generator.param_shapes."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...core.arch.generator import PeriodicGeneratorConfig


def periodic_conv(c_in: int, c_out: int, k: int = 3) -> nn.Conv2d:
    """A conv whose padding wraps around, so a periodic input gives a periodic output."""
    conv = nn.Conv2d(c_in, c_out, k, padding=k // 2, padding_mode="circular" if k > 1 else "zeros")
    nn.init.kaiming_normal_(conv.weight, a=0.2, nonlinearity="leaky_relu")  # keeps activations alive
    nn.init.zeros_(conv.bias)
    return conv


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise each pixel's feature vector (Karras et al. 2018): local, so tiling-safe."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def act(x: torch.Tensor) -> torch.Tensor:
    return pixel_norm(F.leaky_relu(x, 0.2))


def upsample2(x: torch.Tensor, mode: str) -> torch.Tensor:
    """x2 upsampling that wraps around: bilinear reads one wrapped pixel beyond each border."""
    if mode == "nearest":
        return F.interpolate(x, scale_factor=2, mode="nearest")
    x = F.pad(x, (1, 1, 1, 1), mode="circular")
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)[..., 2:-2, 2:-2]


class UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, upsample: str):
        super().__init__()
        self.upsample = upsample
        self.conv1 = periodic_conv(c_in, c_out)
        self.conv2 = periodic_conv(c_out, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = upsample2(x, self.upsample)
        x = act(self.conv1(x))
        return act(self.conv2(x))


class PeriodicGenerator(nn.Module):
    """Spatial latent (B, latent_channels, h, w) -> (B, out_channels, h*scale, w*scale) in [0, 1].

    Every op is translation-equivariant with wrap-around, so G(tile(z)) == tile(G(z)) and any
    output tiles seamlessly.
    """

    def __init__(self, cfg: PeriodicGeneratorConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        self.stem = periodic_conv(cfg.latent_channels, c[0])
        self.blocks = nn.ModuleList(UpBlock(c[i - 1], c[i], cfg.upsample) for i in range(1, len(c)))
        self.head = periodic_conv(c[-1], cfg.out_channels, k=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = act(self.stem(z))
        for block in self.blocks:
            x = block(x)
        return torch.sigmoid(self.head(x))


def build_generator(cfg: PeriodicGeneratorConfig) -> PeriodicGenerator:
    return PeriodicGenerator(cfg)
