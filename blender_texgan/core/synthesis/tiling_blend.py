"""Periodic tiling and blending: the by-example noise of Heitz & Neyret (2018), made exactly periodic.

"High-Performance By-Example Noise using a Histogram-Preserving Blending Operator": cover the output
with a triangle grid; every lattice vertex copies the exemplar from a random offset; every pixel
blends the copies of its triangle's three vertices with barycentric weights. Blending Gaussianised
channels with the variance-preserving operator (sum w_i G_i - mu) / sqrt(sum w_i^2) + mu keeps the
histogram, which plain linear blending would squash towards the mean (ghosting, lost contrast).

Split as in the paper's pre-process / sampler:

* ``analyse(exemplar)`` -- once per exemplar: PCA-decorrelate the albedo, Gaussianise every channel
  (rank -> Gaussian quantile) and build per channel the inverse lookup table back to exemplar values.
* ``synthesize(analysis, height, width, seed)`` -- per seed and size; reads only what analyse stored.

Exact periodicity: the lattice has whole numbers of cells across the output (``Lattice``), every
vertex is reduced modulo the output's period before its offset is looked up, and all lattice maths
is done on integers, so f(y + height, x) == f(y, x) bit for bit (``synthesize_at`` evaluates at any
pixel coordinates to show it). Reads are whole exemplar pixels at (pixel - vertex pixel + offset),
and offsets keep a vertex's whole footprint inside the exemplar, so non-tiling photos work too.

What that costs (scripts/tiling_blend_cause.py): vertex centres stay one footprint reach (a row
height, a cell width) from the exemplar's borders, so a band that wide along each border is read only
by the faint edges of footprints. For a bundled 768 x 1024 exemplar and the default cell that is the
outer ~22 % of the rows and ~19 % of the columns on each side. The blend keeps the histogram of the
middle the vertices read, which is the exemplar's only where the photo is alike all over (rusty_metal,
darker in its middle, comes out darker than its exemplar). Wrapping reads round a non-tiling photo
instead would put its border's seam inside copies.

Channels are those of blender_texgan.core.maps.GENERATED_CHANNELS: albedo RGB, height, roughness,
float32 (H, W, 5) in [0, 1]; every map goes through the same offsets and weights, so they stay
aligned. The normal map is derived from the height afterwards (maps.complete_map_set).
Pure numpy: never imports bpy or torch.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..maps import GENERATED_CHANNEL_COUNT, check_exemplar
from .threads import THREADS, in_bands

LUT_SIZE = 1024
GAUSS_RANGE = 4.0           # the lookup table spans N(0, 1) values in [-4, 4]; beyond clamps
CELL_FRACTION = 0.25        # default cell width: this fraction of the exemplar's smaller side
BAND_PIXELS = 1 << 17       # pixels synthesised at once: bounds the temporary arrays (~30 MB)
PROGRESS_STEPS = 4          # small outputs still report progress (and may stop) this many times
ALBEDO = slice(0, 3)        # albedo channels in the GENERATED_CHANNELS stack


# ---------------------------------------------------------------- Gaussian helpers

def _normal_cdf(g: np.ndarray) -> np.ndarray:
    """Phi(g), the standard normal CDF (math.erf per element: only used on small tables)."""
    return 0.5 * (1.0 + np.vectorize(math.erf, otypes=[np.float64])(np.asarray(g) / math.sqrt(2.0)))


def _normal_quantile(q: np.ndarray) -> np.ndarray:
    """Phi^-1(q) for q in (0, 1), by interpolating a dense table of Phi (error < 1e-4 in [-6, 6])."""
    grid = np.linspace(-6.0, 6.0, 8193)
    return np.interp(q, _normal_cdf(grid), grid)


# ---------------------------------------------------------------- analysis

@dataclass(frozen=True)
class TilingBlendAnalysis:
    """What the sampler needs from one exemplar (all arrays float32).

    gaussian: (H, W, C) the Gaussianised channels (PCA components of the albedo first);
    mean: (C,) their means (the mu of the blend); lut: (C, L) value of each channel at the L
    Gaussian values linspace(-GAUSS_RANGE, GAUSS_RANGE, L); pca_mean (3,), pca_basis (3, 3):
    albedo = components @ pca_basis.T + pca_mean.
    """
    gaussian: np.ndarray
    mean: np.ndarray
    lut: np.ndarray
    pca_mean: np.ndarray
    pca_basis: np.ndarray

    @property
    def exemplar_shape(self) -> tuple[int, int]:
        """(height, width) of the exemplar."""
        return self.gaussian.shape[0], self.gaussian.shape[1]


def albedo_pca(albedo: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 3) colours -> (components (N, 3), mean (3,), basis (3, 3)) with colours = comp @ basis.T + mean."""
    x = albedo.astype(np.float64)
    mean = x.mean(axis=0)
    centred = x - mean
    _, basis = np.linalg.eigh(centred.T @ centred / max(len(x) - 1, 1))
    basis = basis[:, ::-1]  # largest variance first
    return centred @ basis, mean, basis


def gaussianise(values: np.ndarray, lut_size: int = LUT_SIZE,
                levels: tuple[np.ndarray, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """1-D values -> (Gaussian values, inverse lookup table).

    Histogram transform: each value maps to Phi^-1 of its mid-rank quantile, so equal values (8-bit
    images, constant maps) share one Gaussian value. The table holds the values' quantiles at
    Phi(linspace(-GAUSS_RANGE, GAUSS_RANGE, lut_size)), i.e. the inverse transform sampled on a grid.
    `levels` (level_index's): when each pixel's level fixes its value, the ranks come from the few
    levels in use instead of sorting every pixel with its index; the result is the same bit for bit.
    """
    v = np.asarray(values, np.float64).ravel()
    uniq, inverse, counts = _unique(v, levels)
    ends = np.cumsum(counts)
    g = _normal_quantile((ends - 0.5 * counts) / len(v))[inverse.ravel()]
    grid = np.linspace(-GAUSS_RANGE, GAUSS_RANGE, lut_size)
    lut = _sorted_quantiles(uniq, ends, _normal_cdf(grid))
    return g.astype(np.float32), lut.astype(np.float32)


def _sorted_quantiles(uniq: np.ndarray, ends: np.ndarray, q: np.ndarray) -> np.ndarray:
    """np.quantile(values, q) (its default, linear method: Hyndman & Fan's type 7) from the values'
    sorted distinct values and the cumulative counts of each: the sorted values are never built."""
    n = int(ends[-1])
    at = (n - 1) * np.asarray(q, np.float64)
    lower = np.clip(np.floor(at), 0, n - 1)
    a = uniq[np.searchsorted(ends, lower, side="right")]
    b = uniq[np.searchsorted(ends, np.minimum(lower + 1, n - 1), side="right")]
    t = at - lower
    return np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)


def level_index(values: np.ndarray, top: int) -> tuple[np.ndarray, int]:
    """(N, K) values in [0, 1] -> ((N,) index of each pixel's level among those in use, how many are in
    use), a pixel's level being its K values rounded to top + 1 even steps: the `levels` gaussianise
    takes. (top + 1) ** K is at most 2 ** 24 (8-bit colour), so the codes are whole float32 numbers."""
    size = (top + 1) ** values.shape[1]
    if size > 1 << 24:
        raise ValueError(f"{size} levels are too many to index")
    codes = np.zeros(len(values), np.float32)
    for k in range(values.shape[1]):
        codes *= top + 1
        codes += np.rint(np.clip(values[:, k], 0.0, 1.0, dtype=np.float32) * np.float32(top))
    codes = codes.astype(np.int32)
    ordered = np.sort(codes)                  # numpy sorts 32-bit integers fast, unlike argsort's floats
    in_use = ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]
    dense = np.empty(size, np.int32)          # only the pages of the levels in use are touched
    dense[in_use] = np.arange(len(in_use), dtype=np.int32)
    return dense[codes], len(in_use)


def _unique(v: np.ndarray, levels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(v, return_inverse=True, return_counts=True), from `levels` when they fix the values."""
    if levels is not None:
        index, count = levels
        value = np.empty(count, np.float64)
        value[index] = v
        if np.array_equal(value[index], v):    # each level holds one value: sort the levels alone
            uniq, of_level = np.unique(value, return_inverse=True)
            counts = np.bincount(of_level, weights=np.bincount(index, minlength=count)).astype(np.intp)
            return uniq, of_level[index], counts
    return np.unique(v, return_inverse=True, return_counts=True)


def analyse(exemplar, lut_size: int = LUT_SIZE) -> TilingBlendAnalysis:
    """Once per exemplar: (H, W, 5) stack in [0, 1] -> TilingBlendAnalysis (see the module doc)."""
    a = check_exemplar(exemplar, 4, GENERATED_CHANNEL_COUNT)
    h, w, c = a.shape
    flat = a.reshape(-1, c)
    comps, pca_mean, basis = albedo_pca(flat[:, ALBEDO])
    decorrelated = [comps[:, k] for k in range(3)] + [flat[:, k] for k in range(3, c)]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:   # sorting lets the other threads run
        levels = list(pool.map(lambda part, top: level_index(flat[:, part], top),
                               (ALBEDO, *(slice(k, k + 1) for k in range(3, c))), (255, *(65535,) * (c - 3))))
        levels[:1] *= 3                                      # an 8-bit colour fixes all three components
        gaussian, luts = zip(*pool.map(lambda k: gaussianise(decorrelated[k], lut_size, levels[k]), range(c)))
    gaussian = np.stack(gaussian, axis=1)
    return TilingBlendAnalysis(gaussian=gaussian.reshape(h, w, c), mean=gaussian.mean(axis=0).astype(np.float32),
                               lut=np.stack(luts).astype(np.float32), pca_mean=pca_mean.astype(np.float32),
                               pca_basis=basis.astype(np.float32))


# ---------------------------------------------------------------- the periodic triangle lattice

@dataclass(frozen=True)
class Lattice:
    """A skewed triangle lattice wrapped around a height x width torus.

    Vertex (i, j) sits at pixel position x = (i + j / 2) * width / nx, y = j * height / ny:
    nx cells across, ny rows down (ny even, so that (0, height) is a lattice vector), rows about
    sqrt(3)/2 of a cell high so the triangles are close to equilateral, as in the paper.
    """
    height: int
    width: int
    nx: int
    ny: int

    @property
    def cell(self) -> tuple[float, float]:
        """(row height, cell width) in pixels."""
        return self.height / self.ny, self.width / self.nx


def make_lattice(height: int, width: int, cell: float) -> Lattice:
    """The Lattice whose cells come closest to `cell` pixels wide while fitting the output exactly."""
    if height < 1 or width < 1:
        raise ValueError(f"output size must be positive, got {height}x{width}")
    if not cell > 0:
        raise ValueError(f"cell must be positive, got {cell}")
    nx = max(1, int(round(width / cell)))
    ny = max(2, 2 * int(round(height / (cell * math.sqrt(3.0)))))
    return Lattice(int(height), int(width), nx, ny)


def default_cell(exemplar_shape: tuple[int, int]) -> float:
    """Default cell width in output pixels: CELL_FRACTION of the exemplar's smaller side."""
    return max(2.0, CELL_FRACTION * min(exemplar_shape[:2]))


def vertex_offsets(lattice: Lattice, exemplar_shape: tuple[int, int], seed: int) -> np.ndarray:
    """(ny, nx, 2) int64 exemplar offsets (y, x), one per vertex class, from the seed.

    A vertex's footprint reaches one row height and one cell width (plus a pixel) either side of
    it; offsets keep that inside the exemplar when it fits, else they are uniform (reads then wrap).
    """
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, lattice.nx, lattice.ny, 0x7B1E])
    out = np.empty((lattice.ny, lattice.nx, 2), np.int64)
    for axis, (side, margin) in enumerate(zip(exemplar_shape[:2], _margins(lattice))):
        lo, hi = (margin, side - margin) if side - 2 * margin > 0 else (0, side)
        out[..., axis] = rng.integers(lo, hi, (lattice.ny, lattice.nx))
    return out


def _margins(lattice: Lattice) -> tuple[int, int]:
    """How far (rows, columns) a vertex's footprint reaches from its pixel: a row height and a cell
    width, plus a pixel."""
    return tuple(int(math.ceil(reach)) + 1 for reach in lattice.cell)


def footprints_fit(lattice: Lattice, exemplar_shape: tuple[int, int]) -> bool:
    """Whether vertex_offsets keeps every footprint inside the exemplar: then every read is inside it."""
    return all(side - 2 * margin > 0 for side, margin in zip(exemplar_shape[:2], _margins(lattice)))


def _floor_div(num: np.ndarray, den: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer floor division and its non-negative remainder."""
    q = np.floor_divide(num, den)
    return q, num - q * den


def vertex_reads(lattice: Lattice, offsets: np.ndarray, exemplar_shape: tuple[int, int],
                 ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For integer pixel coordinates (any range, shapes that broadcast to S): the three triangle vertices' weights
    (S + (3,)) float32 and exemplar reads (S + (3,)) int64 rows and columns, not yet wrapped: they
    lie inside the exemplar whenever vertex_offsets could fit the footprints, else take them modulo
    (_vertex_table says how they are computed)."""
    ys, xs = np.asarray(ys, np.int64), np.asarray(xs, np.int64)
    weights, ids, shift_y, shift_x = _vertex_table(lattice, offsets, ys, xs)
    return weights, ys[..., None] + shift_y.take(ids), xs[..., None] + shift_x.take(ids)


def _vertex_table(lattice: Lattice, offsets: np.ndarray, ys: np.ndarray,
                  xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Int64 pixel coordinates (shapes that broadcast to S) -> (weights (S + (3,)) float32 of the three
    triangle vertices, ids (S + (3,)) of those vertices in the tables, shift_y, shift_x: per table vertex
    its read shift, offset - vertex pixel; a pixel reads (y, x) + its vertices' shifts).

    Pixel centres (y + 0.5, x + 0.5) in lattice coordinates are exact rationals, j = (2y + 1) ny / 2H
    and i = ((2x + 1) nx 2H - (2y + 1) ny W) / 4WH, so cells, weights and reads are computed from
    integers and repeat exactly with the period (height, width).
    """
    h, w, nx, ny = lattice.height, lattice.width, lattice.nx, lattice.ny
    j0, rj = _floor_div((2 * ys + 1) * ny, 2 * h)
    i0, ri = _floor_div((2 * xs + 1) * (2 * h * nx) - (2 * ys + 1) * (ny * w), 4 * h * w)
    fj, fi = rj / (2.0 * h), ri / (4.0 * h * w)
    upper = fi + fj >= 1.0  # the triangle (1, 1), (1, 0), (0, 1) of the cell
    weights = np.stack([np.abs(1.0 - fi - fj), np.where(upper, 1.0 - fj, fi), np.where(upper, 1.0 - fi, fj)], -1)
    # Per vertex of the few the pixels use, its read shift (offset - vertex pixel), then looked up per pixel.
    # Vertex pixel: floor of its position; shifting (i, j) by a period shifts it by exactly (H, W).
    (j_lo, j_hi), (i_lo, i_hi) = ((int(a.min()), int(a.max())) if a.size else (0, 0) for a in (j0, i0))
    vj, vi = np.meshgrid(np.arange(j_lo, j_hi + 2), np.arange(i_lo, i_hi + 2), indexing="ij")
    vy = np.floor_divide(vj * h, ny)
    vx = np.floor_divide((2 * vi + vj) * w, 2 * nx)
    # Vertex class modulo the period lattice spanned by (nx, 0) and (-ny / 2, ny).
    wraps, cj = _floor_div(vj, ny)
    ci = np.mod(vi + wraps * (ny // 2), nx)
    off = offsets[cj, ci]
    shift_y, shift_x = (off[..., 0] - vy).ravel(), (off[..., 1] - vx).ravel()
    row = vj.shape[1]
    base = (j0 - j_lo) * row + (i0 - i_lo)              # vertex (i0, j0)'s place in the tables
    ids = np.stack([base + upper * (row + 1), base + 1, base + row], -1)   # (i0 + u, j0 + u), (i0 + 1, j0), (i0, j0 + 1)
    return weights.astype(np.float32), ids, shift_y, shift_x


# ---------------------------------------------------------------- synthesis

def even_interp(x: np.ndarray, grid: np.ndarray, table: np.ndarray) -> np.ndarray:
    """np.interp(x, grid, table) for an evenly spaced increasing grid, bit for bit and about twice as
    fast: each value's segment comes from one division (corrected where rounding put it a step off)
    instead of a binary search; the same slope times the same offset plus the same table value. Values
    beyond the grid are clamped to its ends first: a zero offset from the first point, and past the
    last point a segment of slope 0, give np.interp's end values exactly. One difference: where the
    result is a table entry of -0.0 this gives +0.0 (0 + -0.0); the sampler clips to [0, 1], which makes
    both +0.0. numpy's C code may fuse np.interp's multiply and add on some compilers (arm64 clang): the
    equality test would show it there."""
    table = np.asarray(table, np.float64)
    n = len(grid)
    slopes = np.append((table[1:] - table[:-1]) / (grid[1:] - grid[:-1]), 0.0)
    bounds = np.append(grid, np.inf)
    x = np.clip(np.asarray(x, np.float64), grid[0], grid[-1])
    t = x - grid[0]
    t *= (n - 1) / (grid[-1] - grid[0])
    j = t.astype(np.intp)
    j -= bounds.take(j) > x                         # so that grid[j] <= x < grid[j + 1]
    j += bounds.take(j + 1) <= x
    out = x - grid.take(j)
    out *= slopes.take(j)
    out += table.take(j)
    return out


def _blend(analysis: TilingBlendAnalysis, weights: np.ndarray, read_y: np.ndarray, read_x: np.ndarray) -> np.ndarray:
    """Variance-preserving blend of the three Gaussian reads, back through the tables -> (..., C) in [0, 1]."""
    h, w = analysis.exemplar_shape
    index = np.mod(read_y, h)
    index *= w
    index += np.mod(read_x, w)
    return _blend_at(analysis, weights, index)


def _blend_at(analysis: TilingBlendAnalysis, weights: np.ndarray, index: np.ndarray) -> np.ndarray:
    """_blend of the reads at flat exemplar indices."""
    channels = analysis.gaussian.shape[-1]
    g = analysis.gaussian.reshape(-1, channels).take(index, axis=0)          # (..., 3, C)
    blended = np.einsum("...v,...vc->...c", weights, g)
    norm = np.sqrt(np.sum(weights * weights, axis=-1, keepdims=True))
    blended = (blended - analysis.mean) / norm + analysis.mean
    grid = np.linspace(-GAUSS_RANGE, GAUSS_RANGE, analysis.lut.shape[1])
    values = np.stack([even_interp(blended[..., k], grid, analysis.lut[k]) for k in range(channels)], -1)
    values[..., ALBEDO] = values[..., ALBEDO] @ analysis.pca_basis.T + analysis.pca_mean
    return np.clip(values, 0.0, 1.0).astype(np.float32)


def synthesize_at(analysis: TilingBlendAnalysis, lattice: Lattice, seed: int, ys, xs) -> np.ndarray:
    """The synthesis evaluated at integer pixel coordinates ys, xs (same shape S, any range) -> S + (C,).

    Periodic: the value at (y + lattice.height, x) or (y, x + lattice.width) is exactly that at (y, x).
    """
    offsets = vertex_offsets(lattice, analysis.exemplar_shape, seed)
    return _blend(analysis, *vertex_reads(lattice, offsets, analysis.exemplar_shape, ys, xs))


def synthesize(analysis: TilingBlendAnalysis, height: int, width: int, seed: int,
               cell: float | None = None, progress=None, write=None) -> np.ndarray | None:
    """Per seed and size: (height, width, C) float32 in [0, 1] that tiles exactly.

    cell: triangle width in output pixels (default: default_cell of the exemplar); the lattice
    rounds it so that a whole number of cells fits the output. Synthesised in bands of rows, a band
    per thread side by side (numpy lets the others run); progress(fraction), optional, is called
    after each group of them (it may raise to stop the work). write(y0, y1, band), optional, takes
    each band (y1 - y0, width, C) instead, from the threads (its rows only), and None is returned: a
    caller that splits the channels into maps never holds the whole stack (1.3 GB at 8192 px).
    """
    lattice = make_lattice(height, width, default_cell(analysis.exemplar_shape) if cell is None else cell)
    offsets = vertex_offsets(lattice, analysis.exemplar_shape, seed)
    out = None
    if write is None:
        out = np.empty((height, width, analysis.gaussian.shape[2]), np.float32)

        def write(y0: int, y1: int, values: np.ndarray) -> None:
            out[y0:y1] = values

    rows = max(1, min(BAND_PIXELS // width, -(-height // (PROGRESS_STEPS * THREADS))))
    xs = np.arange(width, dtype=np.int64)[None, :]
    inside, ex_width = footprints_fit(lattice, analysis.exemplar_shape), analysis.exemplar_shape[1]

    def band(y0: int, y1: int) -> None:
        ys = np.arange(y0, y1)[:, None]   # with xs, a row's lattice terms are computed once per row
        if inside:   # no read wraps: flat indices straight from the vertex table, no modulo
            weights, ids, shift_y, shift_x = _vertex_table(lattice, offsets, ys, xs)
            index = (ys * ex_width + xs)[..., None] + (shift_y * ex_width + shift_x).take(ids)
            write(y0, y1, _blend_at(analysis, weights, index))
        else:
            write(y0, y1, _blend(analysis, *vertex_reads(lattice, offsets, analysis.exemplar_shape, ys, xs)))

    group = rows * THREADS   # a band per thread side by side, then progress (which may stop the work) here
    for g0 in range(0, height, group):
        g1 = min(height, g0 + group)
        in_bands(g1 - g0, rows, lambda a, b, g0=g0: band(g0 + a, g0 + b))
        if progress is not None:
            progress(g1 / height)
    return out


def source_coordinates(exemplar_shape: tuple[int, int], height: int, width: int, seed: int,
                       cell: float | None = None) -> np.ndarray:
    """(height, width, 2) int64 exemplar pixel (y, x) of each output pixel's heaviest vertex.

    The coordinate field of the same synthesis (same seed and cell) reduced to one source per
    pixel, e.g. for trainer.metrics.verbatim_copy_extent.
    """
    lattice = make_lattice(height, width, default_cell(exemplar_shape) if cell is None else cell)
    offsets = vertex_offsets(lattice, exemplar_shape, seed)
    ys, xs = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    weights, read_y, read_x = vertex_reads(lattice, offsets, exemplar_shape, ys, xs)
    best = np.argmax(weights, axis=-1)[..., None]
    coords = [np.mod(np.take_along_axis(r, best, -1)[..., 0], side)
              for r, side in zip((read_y, read_x), exemplar_shape[:2])]
    return np.stack(coords, axis=-1)
