"""The joined height's coarse relief given the photo's own distribution: per band of a Laplacian
pyramid, the output's coefficients are mapped onto the exemplar's (Heeger & Bergen 1995,
"Pyramid-based texture analysis/synthesis": histogram matching band by band).

Joining patches in the gradient domain (core.synthesis.poisson.poisson_join) removes the steps at the
cuts by moving each stone's level a little; summed over many patches those moves make the coarse
bands of the height wider and differently shaped than the photo's (stone_wall's coarsest band-pass
level: 0.109 from the held-out photo, tiling and blending 0.056). Matching the bands from
FIRST_LEVEL on gives them back the photo's distribution; the finer bands, where the cuts and the
stones' edges are, keep their values.

    bands = exemplar_bands(exemplar_height)          # once per exemplar
    height = match_bands(height, bands)              # per generated (H, W) height, on the torus

Every blur wraps, so a periodic height stays exactly periodic. Pure numpy: never imports bpy or torch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .threads import THREADS, in_bands

FIRST_LEVEL = 2     # bands 0 and 1 (1-2 px and 2-4 px) keep their values: matching them too raised the
#                     cuts' visibility of height (stone_wall 1.18 -> 1.24 over the 1.2 bar) for little
MIN_SIDE = 8        # the coarsest band matched is at least this many pixels on its short side
BORDER = 2          # an exemplar band drops this many pixels at each edge (its blur wrapped a photo)
QUANTILES = 1024    # points of each band's transfer function
SAMPLES = 1 << 18   # at most this many of an output band's values estimate its distribution
BAND_PIXELS = 1 << 20   # full-size steps run in bands of about this many pixels, side by side in threads
INTERP_VALUES = 1 << 16   # a band's values are mapped in parts of at least this many, side by side in threads


def _wrapped(x: np.ndarray, pad: int, axis: int) -> np.ndarray:
    """x with `pad` samples of the other end added at each end of `axis` (the torus, unrolled)."""
    if axis == 0:
        return np.concatenate([x[-pad:], x, x[:pad]])
    return np.concatenate([x[:, -pad:], x, x[:, :pad]], axis=1)


def _even_taps(p: np.ndarray, n: int, axis: int) -> np.ndarray:
    """The binomial blur [1, 4, 6, 4, 1] / 16 along `axis` at positions 0, 2, .. of n samples, from
    p: those samples with two more at each end (wrapped, or a band's neighbours)."""
    tap = (lambda k: p[k:n + k:2]) if axis == 0 else (lambda k: p[:, k:n + k:2])
    out = tap(0) + tap(4)
    out += 4.0 * (tap(1) + tap(3))
    out += 6.0 * tap(2)
    out *= np.float32(1.0 / 16.0)
    return out


def _half(x: np.ndarray, axis: int) -> np.ndarray:
    """The binomial blur along `axis` (wrapping), kept at the even positions only: half the work of
    blurring everything and dropping every other sample."""
    return _even_taps(_wrapped(x, 2, axis), x.shape[axis], axis)


def _two_phases(p: np.ndarray, axis: int) -> np.ndarray:
    """Zero insertion and the blur with gain 2 along `axis`, for an even output: from p (m samples
    with one more at each end) the 2 m outputs, an even one (p[i-1] + 6 p[i] + p[i+1]) / 8, an odd one
    (p[i] + p[i+1]) / 2."""
    take = (lambda a, b: p[a:b]) if axis == 0 else (lambda a, b: p[:, a:b])
    m = p.shape[axis] - 2
    out = np.empty((2 * m, p.shape[1]) if axis == 0 else (p.shape[0], 2 * m), np.float32)
    even, odd = (out[0::2], out[1::2]) if axis == 0 else (out[:, 0::2], out[:, 1::2])
    np.multiply(take(1, -1), 6.0, out=even)
    even += take(0, -2)
    even += take(2, None)
    even *= np.float32(1.0 / 8.0)
    np.add(take(1, -1), take(2, None), out=odd)
    odd *= np.float32(0.5)
    return out


def _double(x: np.ndarray, n: int, axis: int) -> np.ndarray:
    """x (m = ceil(n / 2) samples along `axis`) -> n: zero insertion, then the same blur with gain 2,
    wrapping. For even n in its two phases (an even output is (x[i-1] + 6 x[i] + x[i+1]) / 8, an
    odd one (x[i] + x[i+1]) / 2); an odd n's wrap joins two samples, so it is filtered whole."""
    if n % 2 == 0:
        return _two_phases(_wrapped(x, 1, axis), axis)
    z = np.zeros((n, x.shape[1]) if axis == 0 else (x.shape[0], n), np.float32)
    if axis == 0:
        z[0::2] = x
    else:
        z[:, 0::2] = x
    p = _wrapped(z, 2, axis)
    tap = (lambda k: p[k:n + k]) if axis == 0 else (lambda k: p[:, k:n + k])
    return (tap(0) + tap(4) + 4.0 * (tap(1) + tap(3)) + 6.0 * tap(2)) * np.float32(2.0 / 16.0)


def _down(x: np.ndarray) -> np.ndarray:
    return _half(_half(np.asarray(x, np.float32), 0), 1)


def _up(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Zero insertion to `shape`, then the binomial blur with gain 4 (2 per axis), wrapping."""
    return _double(_double(x, shape[0], 0), shape[1], 1)


def _band_step(rows: int, width: int) -> int:
    """An even number of rows per band: about BAND_PIXELS pixels, at least one band per thread."""
    return max(2, min(BAND_PIXELS // max(1, width), -(-rows // THREADS)) // 2 * 2)


def _down_full(h: np.ndarray) -> np.ndarray:
    """_down of a full-size (H, W) height, band by band in threads (each output row reads five)."""
    n = h.shape[0]
    out = np.empty(((n + 1) // 2, (h.shape[1] + 1) // 2), np.float32)

    def band(i0: int, i1: int) -> None:
        rows = h.take(np.arange(2 * i0 - 2, 2 * i1 + 1) % n, axis=0)   # the band's rows, two more each side
        out[i0:i1] = _half(_even_taps(rows, 2 * (i1 - i0), 0), 1)

    in_bands(out.shape[0], _band_step(out.shape[0], out.shape[1]), band)
    return out


def _up_full(change: np.ndarray, shape: tuple[int, int], base: np.ndarray | None = None,
             out: np.ndarray | None = None) -> np.ndarray:
    """_up(change, shape), or with a `base` of that shape clip(base + _up(change, shape), 0, 1), band
    by band in threads, into `out` when given (it may be `base` itself: each band reads only its rows)."""
    n, width = shape
    if n % 2:
        up = _up(change, shape)
        return up if base is None else np.clip(base + up, 0.0, 1.0, out=out)
    out, m = (np.empty(shape, np.float32) if out is None else out), change.shape[0]

    def band(r0: int, r1: int) -> None:   # r0 even: the band starts on an even output row
        rows = change.take(np.arange(r0 // 2 - 1, (r1 + 1) // 2 + 1) % m, axis=0)   # one more each side
        part = _double(_two_phases(rows, 0)[:r1 - r0], width, 1)
        if base is None:
            out[r0:r1] = part
        else:
            part += base[r0:r1]
            np.clip(part, 0.0, 1.0, out=out[r0:r1])

    in_bands(n, _band_step(n, width), band)
    return out


def _levels(side: int) -> int:
    """Bands from FIRST_LEVEL on whose level keeps at least MIN_SIDE pixels (0: none)."""
    count = 0
    for _ in range(FIRST_LEVEL):
        side = (side + 1) // 2
    while (side + 1) // 2 >= MIN_SIDE:
        side = (side + 1) // 2
        count += 1
    return count


@dataclass(frozen=True)
class ExemplarBands:
    """The exemplar's band distributions from FIRST_LEVEL on: (levels, QUANTILES) float32, finest first."""
    quantiles: np.ndarray


def _band_pyramid(image: np.ndarray, levels: int) -> tuple[list[np.ndarray], np.ndarray]:
    """(bands from the image's own scale, count `levels`, finest first; the low-pass residual)."""
    bands, g = [], image
    for _ in range(levels):
        low = _down(g)
        bands.append(g - _up(low, g.shape))
        g = low
    return bands, g


def _quantile_grid() -> np.ndarray:
    return (np.arange(QUANTILES) + 0.5) / QUANTILES


def quantiles(values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """np.quantile(values, q) (its default, linear method) of finite values, from one sort of them: numpy
    partitions around every index the QUANTILES points need, 5-7x slower. The same figures bit for bit."""
    ordered = np.sort(np.asarray(values).ravel())
    at = (ordered.size - 1) * np.asarray(q, np.float64)
    lower = np.floor(at).astype(np.intp)
    a, b = ordered[lower], ordered[np.minimum(lower + 1, ordered.size - 1)]
    t = at - lower
    step = b - a
    return np.where(t >= 0.5, b - step * (1 - t), a + step * t)


def exemplar_bands(height: np.ndarray) -> ExemplarBands:
    """An (h, w) exemplar height (a photo: it need not tile) -> its band distributions."""
    g = np.asarray(height, np.float32)
    for _ in range(FIRST_LEVEL):
        g = _down(g)
    bands, _ = _band_pyramid(g, _levels(min(np.shape(height))))
    rows = [quantiles(b[BORDER:-BORDER, BORDER:-BORDER] if min(b.shape) > 4 * BORDER else b, _quantile_grid())
            for b in bands]
    return ExemplarBands(np.array(rows, np.float32).reshape(len(rows), QUANTILES))


def _matched(band: np.ndarray, target: np.ndarray) -> np.ndarray:
    """A band's values moved onto the target quantiles: each value's place in the band's own
    distribution (estimated from an even sample of at most SAMPLES values) -> the target's value there."""
    flat = band.ravel()
    sample = flat[::max(1, flat.size // SAMPLES)]
    own = quantiles(sample, _quantile_grid()).astype(np.float32)
    out = np.empty(flat.size, np.float32)

    def part(i0: int, i1: int) -> None:   # np.interp lets other threads run: 1M values 0.14 -> 0.07 s on 2 cores
        out[i0:i1] = np.interp(flat[i0:i1], own, target)

    in_bands(flat.size, max(INTERP_VALUES, -(-flat.size // THREADS)), part)
    return out.reshape(band.shape)


def match_bands(height: np.ndarray, bands: ExemplarBands, overwrite: bool = False) -> np.ndarray:
    """An (H, W) height on the torus -> the same with its bands from FIRST_LEVEL on matched to the
    exemplar's, in [0, 1]. The finer bands are untouched: the result is the height plus the
    change of its coarse levels, brought up to full size. overwrite: write it into `height` (a
    float32 array the caller owns; an 8192 px height is 0.27 GB)."""
    h = np.asarray(height, np.float32)
    levels = min(_levels(min(h.shape)), len(bands.quantiles))
    if levels == 0:
        return h
    lows = [h]
    for _ in range(FIRST_LEVEL):
        lows.append(_down_full(lows[-1]))
    own, residual = _band_pyramid(lows[-1], levels)
    g = residual
    for band, target in zip(reversed(own), reversed(bands.quantiles[:levels])):
        g = _matched(band, target) + _up(g, band.shape)
    change = g - lows[-1]
    for low in reversed(lows[1:-1]):
        change = _up_full(change, low.shape)
    return _up_full(change, h.shape, base=h, out=h if overwrite and h is height else None)
