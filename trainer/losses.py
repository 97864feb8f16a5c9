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


def strided_patches(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """size x size patches on a grid about 32 patches across, at a random offset -> (N, C*size*size).

    Built with unfold, whose backward (fold) is deterministic: a resumed run then repeats the
    original bit for bit, which gathering random pixels (a scatter-add backward) would not."""
    h, w = x.shape[-2:]
    stride = max(1, min(h, w) // 32)
    oy, ox = (int(v) for v in torch.randint(0, stride, (2,), generator=generator))
    cols = F.unfold(x[:, :, oy:, ox:], size, stride=stride)  # (B, C*size*size, L)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])


def sliced_patch_loss(fake: torch.Tensor, real: torch.Tensor, generator: torch.Generator, levels: int = 3,
                      size: int = 7, projections: int = 64) -> torch.Tensor:
    """Sliced Wasserstein distance between the multi-scale patch distributions of fake and real
    images (Rabin et al. 2011; Heitz et al. 2021 on features, here on raw pixels, needing no
    pretrained net): project patches on random unit directions, sort, compare. Real patches are
    resampled to the fakes' count. It pins colour and contrast statistics that a young
    discriminator misses; the GAN loss adds structure."""
    loss, used = fake.new_zeros(()), 0
    for level in range(levels):
        if min(fake.shape[-2:]) < size or min(real.shape[-2:]) < size:
            break
        used += 1
        pf = strided_patches(fake, size, generator)
        pr = strided_patches(real, size, generator)
        pr = pr[torch.randint(0, len(pr), (len(pf),), generator=generator).to(pr.device)]
        dirs = torch.randn(pf.shape[1], projections, generator=generator).to(fake.device)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        loss = loss + (torch.sort(pf @ dirs, dim=0)[0] - torch.sort(pr @ dirs, dim=0)[0]).abs().mean()
        fake, real = F.avg_pool2d(fake, 2), F.avg_pool2d(real, 2)
    return loss / max(used, 1)
