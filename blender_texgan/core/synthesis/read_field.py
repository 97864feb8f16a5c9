"""Reading every map through one coordinate field: the step every exemplar method ends with (joined
patches, coordinate synthesis, the photo tools' seamless and upscaled images).

* ``apply_field(exemplar, coords, soften)`` -- each output pixel copies the exemplar pixel its
  coordinates name, in every channel, so the maps stay aligned; with soften > 0 the two patches
  across each patch border are blended over 2 soften + 1 pixels, keeping contrast.
* ``patch_cuts(coords, radius)`` -- where patch borders are, read off the field.
* ``exemplar_stats(exemplar)`` -- what the blend needs of the exemplar, for callers that read many bands.

Pure numpy: never imports bpy or torch.
"""
from __future__ import annotations

import sys

import numpy as np

# Reading maps through a field: blend patch borders over 2 * SOFTEN + 1 pixels, keeping contrast (see
# apply_field): hides the 4-px cut steps that soften=0 shows at 2x zoom; band-pass albedo on stone 0.065
# unsoftened, 0.048 (baseline 0.066). Shared by the generator and the photo tools (core.photo.seamless).
SOFTEN = 2


def _or_rolled(out: np.ndarray, a: np.ndarray, shift: int, axis: int) -> None:
    """out |= np.roll(a, shift, axis), for 0 < |shift| < a.shape[axis], without the rolled copy."""
    n = a.shape[axis]
    shift %= n
    head, tail = [slice(None)] * a.ndim, [slice(None)] * a.ndim
    head[axis], tail[axis] = slice(shift, None), slice(None, n - shift)
    out[tuple(head)] |= a[tuple(tail)]
    head[axis], tail[axis] = slice(None, shift), slice(n - shift, None)
    out[tuple(head)] |= a[tuple(tail)]


def _breaks(key: np.ndarray, axis: int, step: int) -> np.ndarray:
    """(H, W) bool: the key of the next pixel along `axis` (wrapping) is not this pixel's plus `step`."""
    out = np.empty(key.shape, bool)
    if axis == 1:
        np.not_equal(key[:, 1:], key[:, :-1] + step, out=out[:, :-1])
        np.not_equal(key[:, :1], key[:, -1:] + step, out=out[:, -1:])
    else:
        np.not_equal(key[1:], key[:-1] + step, out=out[:-1])
        np.not_equal(key[:1], key[-1:] + step, out=out[-1:])
    return out


_LOW_FIRST = sys.byteorder == "little"


def patch_cuts(coords: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """(near_x, near_y) (H, W) bool: pixels with a patch border -- a neighbour pair whose coordinates
    do not continue each other -- within `radius` pixels along their row / their column (reads wrap).

    A pixel's (y, x) int32 pair is read as one 64-bit key (one comparison per neighbour pair along
    contiguous memory): the next pixel along a row continues it when its key is one x more, along a
    column one y more (coordinates are exemplar positions, never negative: no carry between halves)."""
    key = np.ascontiguousarray(coords, np.int32).view(np.int64)[..., 0]
    one_y, one_x = (1, 1 << 32) if _LOW_FIRST else (1 << 32, 1)
    near = []
    for axis, step in ((1, one_x), (0, one_y)):
        cut = _breaks(key, axis, step)
        out = cut.copy()
        for d in range(1, radius + 1):
            _or_rolled(out, cut, d, axis)
            if d < radius:
                _or_rolled(out, cut, -d, axis)
        near.append(out)
    return near[0], near[1]


def exemplar_stats(exemplar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per-channel mean, per-channel "varies" mask) of an (h, w, C) exemplar: what the patch-border
    blend needs of it. A caller reading many bands computes them once (0.1 s on a library exemplar)."""
    ex = np.asarray(exemplar)
    flat = ex.reshape(-1, ex.shape[-1]).astype(np.float32, copy=False)
    channels = np.ascontiguousarray(flat.T)   # a channel's max and min along contiguous memory: 6x faster
    return flat.mean(axis=0), channels.max(axis=1) > channels.min(axis=1)


def _blend_along(flat: np.ndarray, exemplar_shape: tuple[int, int], coords: np.ndarray,
                 where: np.ndarray, axis: int, radius: int, periodic: bool,
                 preserve: np.ndarray | None, stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Blend of the 2 radius + 1 predictions E[c(p + d) - d], d along `axis`, at the pixels of flat
    indices `where` (sorted) of the (H, W, 2) int32 field `coords`.

    Variance-preserving, as Heitz & Neyret blend: mu + (mean - mu) / sqrt(sum_k w_k^2), where w_k is
    the share of the predictions that read exemplar pixel k and mu the exemplar's mean. A plain mean
    of two different patches has less contrast than either (the seams looked washed out, and the
    band-pass measure saw it); where all predictions read one pixel this is an exact copy. Channels
    where `preserve` is False get the plain mean (smooth maps such as height: rescaling a step
    between two patches would draw a halo round it)."""
    h, w = exemplar_shape
    height, width = coords.shape[:2]
    pairs = coords.reshape(-1, 2)
    ys, xs = np.divmod(where, width)
    acc = np.zeros((len(ys), flat.shape[1]), np.float32)
    reads = []
    for d in range(-radius, radius + 1):
        q = ys * width + (xs + d) % width if axis == 1 else ((ys + d) % height) * width + xs
        read = pairs.take(q, axis=0)
        py, px = read[:, 0] - (d if axis == 0 else 0), read[:, 1] - (d if axis == 1 else 0)
        py, px = (py % h, px % w) if periodic else (np.clip(py, 0, h - 1), np.clip(px, 0, w - 1))
        reads.append(py * w + px)
        acc += flat.take(reads[-1], axis=0)
    n = 2 * radius + 1
    same = sum((a == b).astype(np.float32) for a in reads for b in reads)  # n^2 * sum_k w_k^2
    mu, varies = stats  # a constant map stays exactly constant
    gain = (n / np.sqrt(same))[:, None]
    keep = varies if preserve is None else varies & np.asarray(preserve, bool)
    gain = np.where(keep[None, :], gain, np.float32(1.0))
    return mu + (acc / n - mu) * gain


def apply_field(exemplar: np.ndarray, coords: np.ndarray, soften: int = 0, periodic: bool = True,
                preserve: np.ndarray | None = None, stats: tuple | None = None) -> np.ndarray:
    """Read every map through one coordinate field: (h, w, C) exemplar, (H, W, 2) coords -> (H, W, C) float32.

    soften: radius r of the patch-border blend. 0 copies pixels. r > 0 blends the two patches
    across a border over 2 r + 1 pixels: a pixel near a border along its row takes the variance-
    preserving blend of the predictions E[c(p + (0, d)) - (0, d)], |d| <= r (each patch extended
    across the border; see _blend_along), likewise
    along its column, and the mean of both near a corner. Inside a patch all predictions agree, so
    the copy stays exact. Predictions wrap on the exemplar when periodic, else clamp to it. Every
    channel gets the same weights and output reads wrap: the maps stay aligned and periodic.
    preserve: per channel, blend variance-preserving (default: every channel) or as a plain mean.
    stats: the exemplar's exemplar_stats, when the caller reads many bands through one exemplar.
    """
    ex = np.asarray(exemplar)
    h, w = ex.shape[:2]
    flat = ex.reshape(h * w, -1)
    if flat.dtype != np.float32:
        flat = flat.astype(np.float32)
    coords = np.ascontiguousarray(coords, np.int32)
    out = flat.take(coords[..., 0] * w + coords[..., 1], axis=0)
    if soften <= 0:
        return out
    near_x, near_y = patch_cuts(coords, soften)
    stats = exemplar_stats(flat) if stats is None else stats
    at_x, at_y = np.flatnonzero(near_x), np.flatnonzero(near_y)   # a few per cent of the pixels: index, not mask
    along_x = _blend_along(flat, (h, w), coords, at_x, 1, soften, periodic, preserve, stats)
    along_y = _blend_along(flat, (h, w), coords, at_y, 0, soften, periodic, preserve, stats)
    pixels = out.reshape(-1, out.shape[-1])
    pixels[at_x] = along_x
    pixels[at_y] = along_y
    both = np.flatnonzero(near_x & near_y)   # near a corner: the mean of both blends
    pixels[both] = 0.5 * (along_x[np.searchsorted(at_x, both)] + along_y[np.searchsorted(at_y, both)])
    return out
