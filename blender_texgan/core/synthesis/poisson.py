"""Maps joined in the gradient domain: every output pixel's forward differences are its source
pixel's own, read through the coordinate field, and the map is their least-squares integral on the
torus (Pérez et al. 2003, "Poisson image editing"; the periodic domain makes the FFT solve exact).

Where two patches of a joined field (core.synthesis.quilt) meet, a copied map steps from one
patch's level to the other's: the height then shows every patch outline in the normal map, and the
albedo a straight tone step across flat stone. Joined here, the relief and the colour continue
across the border instead, and each patch's own detail is kept.

    height = poisson_join(exemplar[..., 3], coords, periodic)
    poisson_join(exemplar[..., 0], coords, periodic, out=albedo[..., 0])   # into a map's channel

Pure numpy: never imports bpy or torch.
"""
from __future__ import annotations

import numpy as np

from .threads import in_bands

FFT_ROWS = 256            # the solve transforms this many rows (or spectrum columns) at a time


def _gradients(values: np.ndarray, periodic: bool) -> tuple[np.ndarray, np.ndarray]:
    """(h, w) exemplar channel -> its forward differences along x and y, flat (0 at an open edge)."""
    ex = np.asarray(values, np.float32)
    if periodic:
        return (np.roll(ex, -1, 1) - ex).ravel(), (np.roll(ex, -1, 0) - ex).ravel()
    gx, gy = np.zeros_like(ex), np.zeros_like(ex)
    gx[:, :-1], gy[:-1] = ex[:, 1:] - ex[:, :-1], ex[1:] - ex[:-1]
    return gx.ravel(), gy.ravel()


def poisson_join(values: np.ndarray, coords: np.ndarray, periodic: bool = False,
                 out: np.ndarray | None = None) -> np.ndarray:
    """(h, w) exemplar channel, (H, W, 2) field -> (H, W) float32 map whose every forward difference
    is its source pixel's own (least squares on the torus, solved exactly by FFT), with the copied
    channel's mean, clipped to [0, 1]: across a border the map continues instead of stepping to the
    other patch's level. out: an (H, W) float32 array (a map's channel may be strided) to write into.

    The least-squares map's spectrum is the divergence's over the Laplacian's; one real FFT of the
    divergence, then along the columns, solved and back, band by band in threads (the spectrum kept
    as complex64: a 8192 px solve in 0.3 GB)."""
    ex = np.asarray(values, np.float32)
    gx_ex, gy_ex = _gradients(ex, periodic)
    rows, cols = coords.shape[:2]
    spectrum = np.empty((rows, cols // 2 + 1), np.complex64)
    sums = np.zeros(rows)

    def forward(r0: int, r1: int) -> None:
        band = coords.take(np.arange(r0 - 1, r1) % rows, axis=0)   # a row above for the vertical differences
        index = band[..., 0].astype(np.int64)
        index *= ex.shape[1]
        index += band[..., 1]
        gx, gy = gx_ex.take(index[1:]), gy_ex.take(index)
        divergence = np.empty_like(gx)   # np.roll(gx, 1, 1) - gx + gy[:-1] - gy[1:], in place
        divergence[:, 1:], divergence[:, :1] = gx[:, :-1], gx[:, -1:]
        divergence -= gx
        divergence += gy[:-1]
        divergence -= gy[1:]
        spectrum[r0:r1] = np.fft.rfft(divergence, axis=1)
        sums[r0:r1] = ex.ravel().take(index[1:]).sum(axis=1, dtype=np.float64)

    laplacian_x = 2.0 - 2.0 * np.cos(2 * np.pi * np.arange(cols // 2 + 1) / cols)
    laplacian_y = (2.0 - 2.0 * np.cos(2 * np.pi * np.fft.fftfreq(rows)))[:, None]

    def solve(c0: int, c1: int) -> None:
        spec = np.fft.fft(spectrum[:, c0:c1], axis=0)
        denominator = laplacian_x[c0:c1] + laplacian_y
        if c0 == 0:
            denominator[0, 0] = 1.0
            spec[0, 0] = 0.0
        spectrum[:, c0:c1] = np.fft.ifft(spec / denominator, axis=0)

    if out is None:
        out = np.empty((rows, cols), np.float32)
    in_bands(rows, FFT_ROWS, forward)
    in_bands(cols // 2 + 1, max(1, FFT_ROWS // 4), solve)
    mean = float(sums.sum() / (rows * cols))

    def back(r0: int, r1: int) -> None:
        band = np.fft.irfft(spectrum[r0:r1], n=cols, axis=1)
        band += mean
        np.clip(band, 0.0, 1.0, out=out[r0:r1], casting="unsafe")

    in_bands(rows, FFT_ROWS, back)
    return out
