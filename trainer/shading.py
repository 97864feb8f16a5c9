"""Photos rendered from PBR sets, for training and measuring translators (photo -> maps).

A photo of a material under one light: Lambert diffuse from the albedo (linearised) times the
light, plus ambient light darkened by the AO map, plus a Blinn-Phong highlight whose sharpness
follows the roughness map, then exposure and the sRGB curve. The view is straight down the normal
of the surface. Augmentation turns a crop by any of the 8 square symmetries and turns its normal
vectors with it, so the light and the normals stay consistent.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def light_directions(azimuth: torch.Tensor, elevation: torch.Tensor) -> torch.Tensor:
    """Angles in radians (B,) -> unit vectors (B, 3), OpenGL tangent space (+Y up the image)."""
    c = torch.cos(elevation)
    return torch.stack([c * torch.cos(azimuth), c * torch.sin(azimuth), torch.sin(elevation)], dim=1)


def shade(albedo, normal, ao, roughness, light, colour, ambient, exposure, specular: float = 0.04):
    """Maps (B, C, H, W), light (B, 3) unit vectors, colour (B, 3), ambient and exposure (B,) ->
    photo (B, 3, H, W), sRGB in [0, 1]."""
    lin = albedo.clamp(0, 1) ** 2.2
    l = light.view(-1, 3, 1, 1)
    ndl = (normal * l).sum(1, keepdim=True).clamp(min=0.0)
    half = F.normalize(l + torch.tensor([0.0, 0.0, 1.0], device=l.device).view(1, 3, 1, 1), dim=1)
    ndh = (normal * half).sum(1, keepdim=True).clamp(min=0.0)
    power = (2.0 / roughness.clamp(0.05, 1.0) ** 4 - 2.0).clamp(1.0, 2000.0)
    spec = specular * (power + 8.0) / 8.0 * ndh ** power * ndl
    amb = ambient.view(-1, 1, 1, 1)
    col = colour.view(-1, 3, 1, 1)
    radiance = lin * (amb * ao + (1.0 - amb) * ndl * col) + spec * col * (1.0 - amb)
    return (radiance * exposure.view(-1, 1, 1, 1)).clamp(1e-6, 1.0) ** (1.0 / 2.2)


def random_lights(batch: int, generator: torch.Generator, device, wedge_deg: float = 360.0) -> dict[str, torch.Tensor]:
    """Light direction (azimuth within [0, wedge_deg] degrees), colour, ambient share and exposure
    for a batch of training photos."""
    def uniform(lo: float, hi: float, *shape) -> torch.Tensor:
        u = torch.rand(*(shape or (batch,)), generator=generator, device=generator.device)  # a CUDA generator draws on the GPU
        return (lo + (hi - lo) * u).to(device)

    light = light_directions(uniform(0.0, math.radians(wedge_deg)), uniform(math.radians(25), math.radians(80)))
    colour = 1.0 + uniform(-0.15, 0.15, batch, 3)
    return {"light": light, "colour": colour / colour.mean(1, keepdim=True),
            "ambient": uniform(0.1, 0.6), "exposure": uniform(0.7, 1.6)}


def fixed_lights(device) -> list[dict[str, torch.Tensor]]:
    """The four lights every measurement uses: 45 degrees up, from 20, 110, 200 and 290 degrees (off
    the grid of lights a translator tries), white, ambient 0.3."""
    out = []
    for k in range(4):
        az = torch.tensor([math.radians(20 + 90 * k)])
        out.append({"light": light_directions(az, torch.tensor([math.radians(45)])).to(device),
                    "colour": torch.ones(1, 3, device=device), "ambient": torch.tensor([0.3], device=device),
                    "exposure": torch.tensor([1.0], device=device)})
    return out


def turn(maps: torch.Tensor, k: int) -> torch.Tensor:
    """Symmetry k (0-7) of a (B, 8, H, W) stack: albedo 0:3, normal 3:6, then scalar maps. The image
    is transposed (k & 4), flipped left-right (k & 1) and top-bottom (k & 2); the normal's x and y
    turn with it (a transpose maps (x, y) to (-y, -x) because +Y points towards row 0)."""
    x = maps
    if k & 4:
        x = x.transpose(2, 3)
        n = x[:, 3:6]
        x = torch.cat([x[:, :3], -n[:, 1:2], -n[:, 0:1], n[:, 2:3], x[:, 6:]], dim=1)
    if k & 1:
        x = x.flip(3)
        x = torch.cat([x[:, :3], -x[:, 3:4], x[:, 4:]], dim=1)
    if k & 2:
        x = x.flip(2)
        x = torch.cat([x[:, :4], -x[:, 4:5], x[:, 5:]], dim=1)
    return x
