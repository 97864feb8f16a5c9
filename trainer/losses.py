"""GAN losses: hinge loss (Miyato et al. 2018, with a spectral-norm discriminator), the R1
gradient penalty on real images (Mescheder et al. 2018), applied lazily every few steps, and a
sliced Wasserstein patch loss on the generator, on raw pixels or on normalised Laplacian bands."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from blender_texgan.engine.nets.generator import wrap_pad

from .options import PATCH_SPACES


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


BAND_STD_FLOOR = 1e-3  # as the metric's STD_FLOOR: values live in [0, 1]


def _binomial_blur(x: torch.Tensor) -> torch.Tensor:
    """Separable [1, 4, 6, 4, 1] / 16 blur with wrap-around borders (the metric's pyramid blur)."""
    c = x.shape[1]
    k = x.new_tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    x = F.conv2d(wrap_pad(x, (0, 2)), k.view(1, 1, 1, 5).expand(c, 1, 1, 5), groups=c)
    return F.conv2d(wrap_pad(x, (2, 0)), k.view(1, 1, 5, 1).expand(c, 1, 5, 1), groups=c)


def laplacian_bands(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """The band-pass levels of x's Laplacian pyramid, finest first, built like the metric's
    (trainer.metrics.laplacian_pyramid): G_{k+1} = blur(G_k)[::2, ::2], band_k = G_k - 4 blur(zero-
    inserted G_{k+1}). The low-pass residual is left out: the pixel statistics carry it."""
    bands = []
    for _ in range(levels):
        low = _binomial_blur(x)[..., ::2, ::2]
        up = x.new_zeros(x.shape)
        up[..., ::2, ::2] = low
        bands.append(x - 4.0 * _binomial_blur(up))
        x = low
    return bands


def sliced_patch_loss(fake: torch.Tensor, real: torch.Tensor, generator: torch.Generator, levels: int = 3,
                      size: int = 7, projections: int = 64, space: str = "pixels") -> torch.Tensor:
    """The sliced patch loss in `space`: "pixels" (sliced_pixel_patch_loss) or "bands"
    (sliced_band_patch_loss)."""
    if space == "bands":
        return sliced_band_patch_loss(fake, real, generator, levels, size, projections)
    if space != "pixels":
        raise ValueError(f"patch space must be one of {', '.join(PATCH_SPACES)}, not {space!r}")
    return sliced_pixel_patch_loss(fake, real, generator, levels, size, projections)


def _sliced_distance(pf: torch.Tensor, pr: torch.Tensor, generator: torch.Generator, projections: int):
    """Sliced Wasserstein-1 between patch sets (rows); the real set is resampled to the fakes' count."""
    pr = pr[torch.randint(0, len(pr), (len(pf),), generator=generator).to(pr.device)]
    dirs = torch.randn(pf.shape[1], projections, generator=generator).to(pf.device)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    return (sorted_columns(pf @ dirs) - sorted_columns(pr @ dirs)).abs().mean()


def sorted_columns(x: torch.Tensor) -> torch.Tensor:
    """torch.sort(x, dim=0)[0]: the same values, and the same gradients but where values tie (each
    sort may then route a gradient to another of the equal entries). On a CPU the order comes from
    numpy, whose sort is 4-8x faster than torch's there (torch's took 40 % of a VAE training step);
    the gradients flow through a gather, as through torch.sort's indices."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
        return torch.sort(x, dim=0)[0]
    values = x.detach().numpy()
    if not x.requires_grad:
        return torch.from_numpy(np.sort(values, axis=0))
    order = np.ascontiguousarray(np.argsort(values.T, axis=1).T)  # sorting contiguous rows is faster
    return x.gather(0, torch.from_numpy(order))


def sliced_band_patch_loss(fake: torch.Tensor, real: torch.Tensor, generator: torch.Generator, levels: int = 3,
                           size: int = 7, projections: int = 64) -> torch.Tensor:
    """Sliced Wasserstein distance between 7x7 patches of the Laplacian bands of fake and real, each
    band and channel divided by the real band's standard deviation (as the SWD metric normalises).

    On raw pixels a channel whose fine detail is faint, such as a smooth height map, weighs almost
    nothing, so the generator can cover it with fine noise (which then shows in the normal map);
    normalised, every channel's detail at every scale counts alike."""
    loss, used = fake.new_zeros(()), 0
    for bf, br in zip(laplacian_bands(fake, levels), laplacian_bands(real, levels)):
        if min(bf.shape[-2:]) < size or min(br.shape[-2:]) < size:
            break
        used += 1
        std = br.detach().std(dim=(0, 2, 3), keepdim=True).clamp_min(BAND_STD_FLOOR)
        pf = strided_patches(bf / std, size, generator)
        pr = strided_patches(br / std, size, generator)
        loss = loss + _sliced_distance(pf, pr, generator, projections)
    return loss / max(used, 1)


def sliced_pixel_patch_loss(fake: torch.Tensor, real: torch.Tensor, generator: torch.Generator,
                            levels: int = 3, size: int = 7, projections: int = 64) -> torch.Tensor:
    """Sliced Wasserstein distance between the multi-scale patch distributions of fake and real
    images (Rabin et al. 2011; Heitz et al. 2021 on features, here on raw pixels, needing no
    pretrained net): project patches on random unit directions, sort, compare. Real patches are
    resampled to the fakes' count. It pins colour and contrast statistics that a young
    discriminator misses; the GAN loss adds structure."""
    loss, used = fake.new_zeros(()), 0
    for _ in range(levels):
        if min(fake.shape[-2:]) < size or min(real.shape[-2:]) < size:
            break
        used += 1
        loss = loss + _sliced_distance(strided_patches(fake, size, generator),
                                       strided_patches(real, size, generator), generator, projections)
        fake, real = F.avg_pool2d(fake, 2), F.avg_pool2d(real, 2)
    return loss / max(used, 1)
