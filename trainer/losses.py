"""GAN losses: hinge loss (Miyato et al. 2018, with a spectral-norm discriminator) and the R1
gradient penalty on real images (Mescheder et al. 2018), applied lazily every few steps."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def d_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def g_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def r1_penalty(discriminator, real: torch.Tensor) -> torch.Tensor:
    """E[ ||grad_x D(x)||^2 ] on real images (multiply by gamma / 2 outside)."""
    real = real.detach().requires_grad_(True)
    logits = discriminator(real)
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()
