"""Wrapped (periodic) convolutions in numpy on planar activations: the numpy engine's nets run on these.

Activations are planar: (C, H + 2, W + 2) float32 with a one-pixel border that repeats the
opposite edge (fill_wrap), so every convolution wraps around. Output pixel (r, j) is numbered
q = r (W + 2) + j, and in each channel plane, flattened, its 3x3 tap (dy, dx) is the element
q + dy (W + 2) + dx: the taps of a run of pixels are contiguous runs, so the im2col buffer of a
chunk of pixels is filled by long contiguous copies (the two junk pixels q of each row with j >= W
are computed and dropped). Each convolution is one matrix product (Cout, 9 Cin) @ (9 Cin, pixels)
per chunk, and the caller's activation runs on the chunk's output while it is in cache.

Every product of a layer has the same shape on any image (im2col_chunks): a fixed multiple of
CHUNK_ALIGN pixels, about BAND_FLOATS floats of im2col (in cache, and for narrow layers within
OpenBLAS's faster small-matrix kernels). The BLAS then computes every pixel the same way, so the
output is exactly periodic: tiling the input tiles the output bit for bit, and tiled inference
equals a single pass.

Pure numpy.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np

BAND_PIXELS = 1 << 16  # output pixels per matrix product at most (a caller may ask for fewer)
BAND_FLOATS = 1 << 17  # im2col floats per matrix product (512 KiB: stays in cache)
# OpenBLAS (numpy's usual BLAS) runs products of at most 100^3 multiply-adds with its small-matrix
# kernels on AVX-512 CPUs: several times faster for a few output channels.
SMALL_PRODUCT = 100 ** 3
CHUNK_ALIGN = 64  # pixels per product are a multiple of this: no partial vector blocks
SMALL_CHUNK = 512  # the fewest pixels per product kept to stay within SMALL_PRODUCT


def fill_wrap(p: np.ndarray) -> np.ndarray:
    """Fill the one-pixel border of (C, H + 2, W + 2) `p` from the opposite side of its interior
    (rows first, so the corners come out right); returns p."""
    p[:, 0, 1:-1] = p[:, -2, 1:-1]
    p[:, -1, 1:-1] = p[:, 1, 1:-1]
    p[:, :, 0] = p[:, :, -2]
    p[:, :, -1] = p[:, :, 1]
    return p


def wrap_pad(x: np.ndarray) -> np.ndarray:
    """(C, H, W) -> contiguous float32 (C, H + 2, W + 2) with a wrap-around border."""
    c, h, w = x.shape
    p = np.empty((c, h + 2, w + 2), np.float32)
    p[:, 1:-1, 1:-1] = x
    return fill_wrap(p)


def planar_weight(w: np.ndarray) -> np.ndarray:
    """Torch conv weight (Cout, Cin, kh, kw) -> (Cout, kh * kw * Cin) in (dy, dx, c) column order."""
    w = np.asarray(w, np.float32)
    return np.ascontiguousarray(w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1))


class Taps(NamedTuple):
    """Where the taps of a convolution read, in flat per-channel planes: output pixel q reads
    sources[t][:, offsets[t] + q] for tap t (t = 3 dy + dx for a 3x3 conv). Output pixels are
    numbered in rows of `row` of which the first `width` are real (the rest junk); pixels 0 to
    total - 1 are computed."""
    sources: list[np.ndarray]
    offsets: list[int]
    row: int
    width: int
    total: int


def stride1_taps(p: np.ndarray) -> Taps:
    """The taps of a wrapped 3x3 conv of wrap-padded p (C, H + 2, W + 2): rows of W + 2, the output
    pixel (r, j) is q = r (W + 2) + j and tap (dy, dx) reads q + dy (W + 2) + dx of the plane."""
    c, hp, wp = p.shape
    flat = p.reshape(c, -1)
    return Taps([flat] * 9, [dy * wp + dx for dy in range(3) for dx in range(3)], wp, wp - 2, (hp - 2) * wp - 2)


def stride2_taps(p: np.ndarray) -> Taps:
    """The taps of a wrapped 3x3 conv of wrap-padded p (C, H + 2, W + 2) read at every second row and
    column: in the four polyphase parts of p (every second row and column from (e, f)), tap (dy, dx)
    is a stride-1 read of part (dy % 2, dx % 2) at offset (dy // 2, dx // 2)."""
    c, hp, wp = p.shape
    h, w = (hp - 1) // 2, (wp - 1) // 2  # ceil(H / 2), ceil(W / 2)
    parts = np.zeros((2, 2, c, h + 1, w + 1), np.float32)
    for e in (0, 1):
        for f in (0, 1):
            part = p[:, e::2, f::2][:, :h + 1, :w + 1]
            parts[e, f, :, :part.shape[1], :part.shape[2]] = part
    flats = parts.reshape(2, 2, c, -1)
    return Taps([flats[dy % 2, dx % 2] for dy in range(3) for dx in range(3)],
                [dy // 2 * (w + 1) + dx // 2 for dy in range(3) for dx in range(3)], w + 1, w, h * (w + 1) - 1)


def chunk_length(k: int, c_out: int, band_pixels: int = BAND_PIXELS) -> int:
    """Output pixels per matrix product (c_out, k) @ (k, pixels) of a layer, whatever the image: a
    multiple of CHUNK_ALIGN, about BAND_FLOATS im2col floats (band_pixels at most), and within
    SMALL_PRODUCT multiply-adds where that leaves SMALL_CHUNK pixels or more."""
    n = min(BAND_FLOATS // k, band_pixels)
    if SMALL_PRODUCT // (c_out * k) >= SMALL_CHUNK:
        n = min(n, SMALL_PRODUCT // (c_out * k))
    return max(CHUNK_ALIGN, n // CHUNK_ALIGN * CHUNK_ALIGN)


def im2col_chunks(taps: Taps, length: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield (q0, count, cols) for chunks of `length` output pixels from q0 covering range(taps.total):
    cols (taps * C, length), rows in (tap, c) order, of which the first `count` are real pixels. Every
    product of a layer thus has the same shape, so the BLAS computes every pixel the same way, on
    any image: the last chunk ends at total, overlapping the one before (its pixels come out the
    same), and an image smaller than a chunk reads zeros past its end. One buffer serves every chunk."""
    total, c = taps.total, taps.sources[0].shape[0]
    sources = taps.sources
    if total < length:
        end = max(taps.offsets) + length
        extended = {}
        for source in sources:
            if id(source) not in extended:
                extended[id(source)] = np.zeros((c, end), np.float32)
                extended[id(source)][:, :min(end, source.shape[1])] = source[:, :end]
        sources = [extended[id(source)] for source in sources]
    starts = list(range(0, max(1, total - length + 1), length))
    if starts[-1] + length < total:
        starts.append(total - length)
    cols = np.empty((len(sources) * c, length), np.float32)
    for q0 in starts:
        for t, (source, offset) in enumerate(zip(sources, taps.offsets)):
            cols[t * c:(t + 1) * c] = source[:, offset + q0:offset + q0 + length]
        yield q0, min(length, total - q0), cols


def store_chunk(dst: np.ndarray, y: np.ndarray, q0: int, count: int, row: int) -> None:
    """dst[:, r, j] = y[:, i] for the real pixels q0 + i = r * row + j (i < count, j < dst.shape[2])
    of a contiguous chunk y (C, n): the end of a first row, whole rows, the start of a last row."""
    w, size = dst.shape[2], y.itemsize
    r, j = divmod(q0, row)
    i = 0
    if j:
        i = min(count, row - j)
        if j < w:
            dst[:, r, j:min(w, j + i)] = y[:, :min(w, j + i) - j]
        r += 1
    rows = (count - i) // row
    if rows:  # a (C, rows, w) view of y, skipping the junk columns
        dst[:, r:r + rows] = np.ndarray((y.shape[0], rows, w), y.dtype, y, i * size, (y.strides[0], row * size, size))
        i, r = i + rows * row, r + rows
    if i < count:
        dst[:, r, :min(w, count - i)] = y[:, i:i + min(w, count - i)]


def leaky(y: np.ndarray) -> np.ndarray:
    """Leaky ReLU (slope 0.2), in place."""
    return np.maximum(y, np.multiply(y, 0.2), out=y)


def leaky_pixel_norm(y: np.ndarray, c: int | None = None) -> np.ndarray:
    """In place on contiguous (k * c, pixels), k vectors of c channels a pixel stacked (c defaults to
    all rows): leaky ReLU, then each pixel's vectors divided by their RMS."""
    if not y.flags.c_contiguous:
        raise ValueError("leaky_pixel_norm works in place on a contiguous chunk")
    t = np.multiply(y, 0.2)
    np.maximum(y, t, out=y)
    np.square(y, out=t)
    shape = (-1, c or y.shape[0], y.shape[1])
    rms = np.add.reduce(t.reshape(shape), axis=1, keepdims=True)
    rms *= 1.0 / shape[1]
    rms += 1e-8
    np.sqrt(rms, out=rms)
    g = y.reshape(shape)  # a view, y being contiguous
    g /= rms
    return y


def conv_chunks(taps: Taps, w: np.ndarray, b: np.ndarray,
                band_pixels: int = BAND_PIXELS) -> Iterator[tuple[int, int, np.ndarray]]:
    """The conv with w (Cout, taps * Cin) in (tap, c) order of what `taps` read, chunk by chunk:
    yields (q0, count, y), y (Cout, n) the outputs of pixels q0 .. q0 + n - 1 with bias, the first
    count real (im2col_chunks). y is a small reused buffer: act and store it before the next."""
    y = None
    for q0, count, cols in im2col_chunks(taps, chunk_length(w.shape[1], w.shape[0], band_pixels)):
        y = np.empty((w.shape[0], cols.shape[1]), np.float32) if y is None else y
        np.matmul(w, cols, out=y)
        y += b[:, None]
        yield q0, count, y


def conv3x3_planar(p: np.ndarray, w: np.ndarray, b: np.ndarray,
                   finish: Callable[[np.ndarray], np.ndarray] | None = None,
                   band_pixels: int = BAND_PIXELS) -> np.ndarray:
    """Wrapped 3x3 conv of wrap-padded p (Cin, H + 2, W + 2) -> wrap-padded (Cout, H + 2, W + 2);
    finish(y) runs in place on each chunk of outputs first, while it is in cache. Pixel q of a chunk
    is q + W + 3 of the padded output plane: its junk pixels land on the border."""
    _, hp, wp = p.shape
    out = np.empty((w.shape[0], hp, wp), np.float32)
    flat = out.reshape(w.shape[0], -1)
    for q0, count, y in conv_chunks(stride1_taps(p), w, b, band_pixels):
        if finish is not None:
            finish(y)
        flat[:, wp + 1 + q0:wp + 1 + q0 + count] = y[:, :count]
    return fill_wrap(out)


def conv3x3_stride2(p: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Wrapped 3x3 conv of wrap-padded p (Cin, H + 2, W + 2) read at every second row and column
    (from row and column 0), then leaky ReLU -> (Cout, ceil(H / 2), ceil(W / 2))."""
    taps = stride2_taps(p)
    out = np.empty((w.shape[0], (p.shape[1] - 1) // 2, taps.width), np.float32)
    for q0, count, y in conv_chunks(taps, w, b):
        store_chunk(out, leaky(y), q0, count, taps.row)
    return out


def conv1x1(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(Cin, H, W) with w (Cout, Cin) -> (Cout, H, W), in chunks like the 3x3 convs."""
    c, h, wd = x.shape
    out = np.empty((w.shape[0], h * wd), np.float32)
    for q0, count, y in conv_chunks(Taps([np.ascontiguousarray(x).reshape(c, -1)], [0], wd, wd, h * wd), w, b):
        out[:, q0:q0 + count] = y[:, :count]
    return out.reshape(-1, h, wd)
