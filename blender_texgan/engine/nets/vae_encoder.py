"""The texture VAE's encoder as a torch module, rebuilt from a model file's manifest (the decoder
is engine.nets.generator.PeriodicGenerator). Parameter names and shapes match core.arch.vae.vae_param_shapes;
engine.nets.numpy_generator.NumpyEncoder is its numpy twin."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...core.arch.vae import VAEConfig
from ...core.maps import GENERATED_CHANNEL_COUNT
from .generator import build_generator, periodic_conv


class PeriodicEncoder(nn.Module):
    """(B, 5, H, W) maps in [0, 1] -> mean, log-variance, each (B, latent, H / scale, W / scale).
    H and W must be multiples of cfg.scale. Stride-2 convs read the wrapped-around neighbours, so a
    texture shifted by whole latent cells encodes to the latent shifted by as many cells."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        c = cfg.encoder_channels
        self.stem = periodic_conv(GENERATED_CHANNEL_COUNT, c[0])
        self.down = nn.ModuleList(periodic_conv(c[i], c[i + 1]) for i in range(len(c) - 1))
        for conv in self.down:
            conv.stride = (2, 2)
        self.head = periodic_conv(c[-1], 2 * cfg.latent_channels, k=1)
        nn.init.normal_(self.head.weight, std=0.01)  # starts near the prior: mean 0, variance 1

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.leaky_relu(self.stem(x * 2.0 - 1.0), 0.2)
        for conv in self.down:
            x = F.leaky_relu(conv(x), 0.2)
        mean, logvar = self.head(x).chunk(2, dim=1)
        return mean, logvar.clamp(-12.0, 6.0)


class TextureVAE(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = PeriodicEncoder(cfg)
        self.decoder = build_generator(cfg.decoder)


def build_vae(cfg: VAEConfig) -> TextureVAE:
    return TextureVAE(cfg)
