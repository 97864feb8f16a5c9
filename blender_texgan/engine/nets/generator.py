"""Torch modules rebuilt from a model file's manifest. The trainer builds on these, so an exported
model always loads here. Parameter names and shapes match core.arch.generator.param_shapes."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...core.arch.generator import PeriodicGeneratorConfig


class _WrapPad(torch.autograd.Function):
    """F.pad(x, (px, px, py, py), mode="circular") whose backward folds the border's gradient back onto
    the rows and columns it copied: a copy and two small sums per padded axis, where autograd through
    the padding's slices fills and copies a full-size gradient per slice (about a quarter of a small
    net's step on a CPU)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, py: int, px: int) -> torch.Tensor:
        ctx.pads = py, px
        return F.pad(x, (px, px, py, py), mode="circular")

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        py, px = ctx.pads
        if py:
            rows = grad[..., py:-py, :].clone()
            rows[..., :py, :] += grad[..., -py:, :]     # the rows below the bottom are the top rows
            rows[..., -py:, :] += grad[..., :py, :]     # the rows above the top are the bottom rows
            grad = rows
        if px:
            cols = grad[..., px:-px].clone()
            cols[..., :px] += grad[..., -px:]
            cols[..., -px:] += grad[..., :px]
            grad = cols
        return grad, None, None


def wrap_pad(x: torch.Tensor, p: int | tuple[int, int]) -> torch.Tensor:
    """x (..., H, W) padded by wrapped rows and columns on every side: p of each, or (rows, columns)
    (each at most H, W)."""
    py, px = (p, p) if isinstance(p, int) else p
    return _WrapPad.apply(x, py, px) if py or px else x


class PeriodicConv2d(nn.Conv2d):
    """nn.Conv2d with padding_mode "circular" (same parameters, same output), padded by wrap_pad."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, padding: int | None = None):
        super().__init__(c_in, c_out, k, stride=stride, padding=0)
        self.wrap = k // 2 if padding is None else padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(wrap_pad(x, self.wrap), self.weight, self.bias)


def periodic_conv(c_in: int, c_out: int, k: int = 3) -> nn.Conv2d:
    """A conv whose padding wraps around, so a periodic input gives a periodic output."""
    conv = PeriodicConv2d(c_in, c_out, k) if k > 1 else nn.Conv2d(c_in, c_out, k)
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
    x = wrap_pad(x, 1)
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
