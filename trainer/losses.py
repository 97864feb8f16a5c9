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


def random_patches(x: torch.Tensor, count: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """`count` random size x size patches, each fully inside a random image -> (count, C * size * size)."""
    b, c, h, w = x.shape
    image = torch.randint(0, b, (count, 1, 1), generator=generator).to(x.device)
    ys = torch.randint(0, h - size + 1, (count, 1, 1), generator=generator).to(x.device)
    xs = torch.randint(0, w - size + 1, (count, 1, 1), generator=generator).to(x.device)
    d = torch.arange(size, device=x.device)
    rows, cols = ys + d.view(1, -1, 1), xs + d.view(1, 1, -1)
    return x.permute(0, 2, 3, 1)[image, rows, cols].reshape(count, -1)  # (count, size, size, C) flat


def sliced_patch_loss(fake: torch.Tensor, real: torch.Tensor, generator: torch.Generator, levels: int = 3,
                      count: int = 1024, size: int = 7, projections: int = 64) -> torch.Tensor:
    """Sliced Wasserstein distance between the multi-scale patch distributions of fake and real
    images (Rabin et al. 2011; Heitz et al. 2021 on features, here on raw pixels, needing no
    pretrained net): project random patches on random unit directions, sort, compare. It pins
    colour and contrast statistics that a young discriminator misses; the GAN loss adds structure."""
    loss, used = fake.new_zeros(()), 0
    for level in range(levels):
        if min(fake.shape[-2:]) < size:
            break
        used += 1
        pf, pr = random_patches(fake, count, size, generator), random_patches(real, count, size, generator)
        dirs = torch.randn(pf.shape[1], projections, generator=generator).to(fake.device)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        loss = loss + (torch.sort(pf @ dirs, dim=0)[0] - torch.sort(pr @ dirs, dim=0)[0]).abs().mean()
        fake, real = F.avg_pool2d(fake, 2), F.avg_pool2d(real, 2)
    return loss / max(used, 1)
