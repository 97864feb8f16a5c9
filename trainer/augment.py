"""Differentiable augmentation (Zhao et al. 2020, DiffAugment), applied to real and fake alike.

Every op keeps periodicity: translation is a wrap-around roll (never zero padding), flips and
brightness are pointwise or global. Only the albedo channels change brightness; height and
roughness keep their meaning.
"""
from __future__ import annotations

import torch


def augment(x: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5,
            brightness: float = 0.1) -> torch.Tensor:
    """(B, C, H, W) -> augmented copy; one random draw per image."""
    b, _, h, w = x.shape
    dev = x.device

    def rand(*shape):
        return torch.rand(*shape, generator=generator, device="cpu").to(dev)

    # Wrap-around translation by any offset (per image).
    shifts_y = (rand(b) * h).long().tolist()
    shifts_x = (rand(b) * w).long().tolist()
    apply = (rand(b) < p).tolist()
    rolled = [torch.roll(x[i], (sy, sx), dims=(1, 2)) if a else x[i]
              for i, (sy, sx, a) in enumerate(zip(shifts_y, shifts_x, apply))]
    x = torch.stack(rolled)
    # Horizontal flip.
    flip = (rand(b) < p * 0.5).view(b, 1, 1, 1)
    x = torch.where(flip, x.flip(-1), x)
    # Brightness of albedo only.
    delta = (rand(b) - 0.5) * 2 * brightness * (rand(b) < p).float()
    albedo = x[:, :3] + delta.view(b, 1, 1, 1)
    return torch.cat([albedo, x[:, 3:]], dim=1)
