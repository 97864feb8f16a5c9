"""Patches joined along the material's own joints: image quilting on a torus, as a coordinate field.

Efros & Freeman's image quilting (2001), made exactly periodic and element-aware:

* ``analyse(exemplar)`` -- once per exemplar (cheap; ``measure``'s two numbers are stored in the
  model file): the matching features (albedo and height, each scaled to unit spread), the relief (height
  ranked to [0, 1]: joints, mortar and cracks low), the **element size** per axis -- one stone,
  sett, plank or plate: the length of the runs of raised relief between joints -- and the repeat per
  axis (core.synthesis.lattice).
* ``synthesize(analysis, height, width, seed)`` -- per seed and size: a grid of patches of about
  PATCH_ELEMENTS elements on the torus, placed in raster order. Each patch reaches back over its
  neighbours by an overlap band; its source is drawn among the exemplar places that best match what
  is already there (a tolerance, as in image quilting, keeps it varied; places that would merely
  continue a neighbour's copy are refused). The border inside each band is the cheapest path (core.
  wrap_cut's dynamic programme, which may run along a row between two steps) through mismatch plus
  relief, so it follows joints and mortar instead of cutting stones. The last column and row meet
  the first across the wrap through the same kind of shared band, so the field tiles exactly. On an axis with
  a repeat (courses, rows of tiles) every source keeps one phase, so courses run straight.
* ``border_pairs(coords)`` -- where two patches meet, read off the field (trainer.metrics'
  cut_visibility measures how much those borders show).

Pure numpy: never imports bpy or torch.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..photo.wrap_cut import crossing_sums, min_cost_cycles, min_cost_paths, window_sums
from .lattice import keeps_repeat, lattice_positions, layout_periods, relief_plane
from .threads import THREADS, alongside, in_bands, one_worker

PATCH_ELEMENTS = 3.0          # patch side in elements: whole stones survive inside, and the overlap holds a joint
PATCH_SHARE = (0.12, 0.4)     # ... kept within this share of the exemplar's smaller side
MIN_PATCH = 24                # pixels: smaller outputs get smaller patches, never smaller than this
OVERLAP = 0.4                 # overlap band: this share of a patch's side, about one element: every course then has a joint inside it
CANDIDATES = 128              # source places tried per patch
TOLERANCE = 0.15              # any place within this share of the best match may be taken (variety)
SEARCH_SAMPLES = 6            # samples across the narrower overlap band when matching (a strided grid)
JOINT_WEIGHT = 0.35           # a cut pays this for running over raised relief instead of a joint
NO_REPEAT = 0.5               # refuse places within this share of a patch of a neighbour's own copy
REUSE = 0.5                   # a place near an earlier patch's source costs this much more per earlier patch
MIN_ELEMENT, MAX_ELEMENT_SHARE = 8, 0.5   # element size bounds: pixels, share of the side


@dataclass(frozen=True)
class QuiltAnalysis:
    """What synthesis reads of an (h, w, C) exemplar. table (min(C, 4) + 1, h w) float32, what the cuts
    read, channel by channel: the features (albedo RGB and height, or a photo's colour, each scaled to unit
    spread), then the relief (the height's rank in [0, 1]: 0 in joints); element: one element's (rows,
    columns) size in pixels; periods: repeat per axis (0: none); periodic: whether the exemplar tiles itself
    (else sources stay inside it); search (h, w, 2) float32: what matching compares (luminance and relief,
    scaled to unit spread)."""
    table: np.ndarray
    element: tuple[int, int]
    search: np.ndarray
    periods: tuple[int, int]
    periodic: bool

    @property
    def shape(self) -> tuple[int, int]:
        return self.search.shape[:2]


# ---------------------------------------------------------------- analysis

def otsu_threshold(values: np.ndarray) -> float:
    """The level that best splits `values` into two classes (Otsu 1979: most between-class variance)."""
    hist, edges = np.histogram(np.asarray(values, np.float64), 256)
    p = hist / max(hist.sum(), 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    w0, m0 = np.cumsum(p), np.cumsum(p * centres)
    between = (m0[-1] * w0 - m0) ** 2 / np.maximum(w0 * (1.0 - w0), 1e-12)
    return float(centres[np.argmax(between)])


def run_length(mask: np.ndarray) -> float:
    """Mean length of the runs of True along each row of a (n, L) mask, weighted by length (the run a
    random True pixel belongs to: short specks of noise count little)."""
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    lengths = np.flatnonzero(edges.ravel() == -1) - np.flatnonzero(edges.ravel() == 1)
    return float((lengths.astype(np.float64) ** 2).sum() / max(lengths.sum(), 1))


def element_size(exemplar: np.ndarray) -> tuple[int, int]:
    """(rows, columns) size of one element -- a stone, sett, plank or plate -- in pixels: the raised
    part of the relief (height above its Otsu level; the luminance when the height is flat) cut into
    runs along each axis, their length-weighted mean. Joints, mortar and furrows end the runs. Bounded
    to MIN_ELEMENT .. MAX_ELEMENT_SHARE of the side."""
    ex = np.asarray(exemplar, np.float32)
    relief = relief_plane(ex)
    raised = relief > otsu_threshold(relief)
    sizes = (run_length(raised.T), run_length(raised))
    return tuple(int(np.clip(round(s), MIN_ELEMENT, MAX_ELEMENT_SHARE * side))
                 for s, side in zip(sizes, ex.shape[:2]))


def measure(exemplar: np.ndarray) -> dict:
    """What a model file stores of an (h, w, C) exemplar, so generation never measures it again:
    {"element": [rows, columns], "lattice": [row repeat, column repeat]} (see analyse)."""
    ex = np.asarray(exemplar, np.float32)
    return {"element": [int(e) for e in element_size(ex)], "lattice": [int(p) for p in layout_periods(ex)]}


def stable_order(values: np.ndarray) -> np.ndarray:
    """np.argsort(values, axis=None, kind="stable") of float32 values, 3-4x faster: each value's bits made
    to sort as the values do (sign flipped, negatives inverted; -0.0 made 0.0 first) above its index, and
    those 64-bit keys sorted (a library exemplar's 0.4 M values in 16 ms instead of 57, before every
    first generation)."""
    bits = (np.asarray(values, np.float32).ravel() + np.float32(0.0)).view(np.uint32)
    key = np.where(bits >> 31, ~bits, bits | np.uint32(0x80000000)).astype(np.uint64)
    key <<= np.uint64(32)
    key |= np.arange(key.size, dtype=np.uint64)
    key.sort()
    return (key & np.uint64(0xFFFFFFFF)).astype(np.int64)


def analyse(exemplar: np.ndarray, periodic: bool = False, periods: tuple[int, int] | None = None,
            element: tuple[int, int] | None = None) -> QuiltAnalysis:
    """(h, w, C) exemplar -> QuiltAnalysis: a GENERATED_CHANNELS stack (C = 5; albedo and height are
    matched) or a photo (C = 1..4; its colour is matched and its luminance is the relief). `periods`
    and `element` may come from the model file (stored at export), which skips measuring them."""
    ex = np.asarray(exemplar, np.float32)
    ex = ex[..., None] if ex.ndim == 2 else ex
    count = min(4, ex.shape[-1])
    table = np.empty((count + 1, ex.shape[0] * ex.shape[1]), np.float32)

    def features() -> np.ndarray:   # each scaled to unit spread, into the table's first rows
        feats = ex[..., :count] / np.maximum(ex[..., :count].reshape(-1, count).std(axis=0), 1e-3)
        table[:count] = feats.reshape(-1, count).T
        return feats

    with one_worker() as worker:   # the features beside the relief's rank: numpy lets both run (a first call's wait)
        scaled = worker.submit(features)
        plane = relief_plane(ex)
        order = stable_order(plane)
        if np.ptp(plane) > 1e-3:
            table[count, order] = np.linspace(0.0, 1.0, plane.size, dtype=np.float32)
        else:
            table[count] = 0.5
        feats = scaled.result()
    search = np.stack([feats[..., :min(3, count)].mean(-1), (plane - plane.mean()) / max(float(plane.std()), 1e-3)], -1)
    return QuiltAnalysis(table, tuple(int(e) for e in element) if element else element_size(ex), search.astype(np.float32),
                         tuple(int(p) for p in (periods if periods is not None else layout_periods(ex))),
                         bool(periodic))


# ---------------------------------------------------------------- layout

@dataclass(frozen=True)
class Layout:
    """Patch grid on an (H, W) torus: cell borders ys (ny + 1,), xs (nx + 1,), from 0 to the side;
    patch (i, j) covers rows ys[i] - overlap[0] .. ys[i + 1] - 1 and columns likewise (reads wrap)."""
    ys: np.ndarray
    xs: np.ndarray
    overlap: tuple[int, int]


def patch_size(analysis: QuiltAnalysis) -> tuple[int, int]:
    """(rows, columns) of a patch: PATCH_ELEMENTS elements, within PATCH_SHARE of the exemplar's side."""
    lo, hi = PATCH_SHARE
    small = min(analysis.shape)
    return tuple(int(np.clip(PATCH_ELEMENTS * e, lo * small, hi * side))
                 for e, side in zip(analysis.element, analysis.shape))


def layout(analysis: QuiltAnalysis, height: int, width: int) -> Layout:
    """Cells of about patch_size() pixels, a whole number per side, and the overlap bands. An output
    shorter than 1.5 patches is one cell along that axis: the patch then meets itself across the
    wrap (as core.photo.wrap_cut makes a photo seamless) rather than being cut into pieces smaller than
    the material's elements."""
    borders, overlap = [], []
    for want, size in zip(patch_size(analysis), (height, width)):
        side = max(MIN_PATCH, min(want, size))
        n = max(1, round(size / side))
        edges = (np.arange(n + 1) * size) // n
        borders.append(edges)
        overlap.append(max(2, min(int(OVERLAP * side), int(np.diff(edges).min()) // 2 - 1)))
    return Layout(borders[0], borders[1], tuple(overlap))


# ---------------------------------------------------------------- choosing sources

def _source_range(analysis: QuiltAnalysis, extent: tuple[int, int]) -> np.ndarray:
    """Highest source corner per axis (exclusive) for a patch of `extent` pixels."""
    h, w = analysis.shape
    if analysis.periodic:
        return np.array([h, w])
    return np.maximum(1, np.array([h - extent[0], w - extent[1]]) + 1)


def _candidates(analysis: QuiltAnalysis, rng: np.random.Generator, extent: tuple[int, int],
                origin: tuple[int, int], phase: np.ndarray) -> np.ndarray:
    """(K, 2) source corners drawn at random; on an axis with a repeat P each keeps the phase
    (source - output position) = phase modulo P, so courses and rows stay on one lattice."""
    top = _source_range(analysis, extent)
    cand = rng.integers(0, top, size=(CANDIDATES, 2))
    for axis, period in enumerate(analysis.periods):
        if period and top[axis] > period:
            want = (origin[axis] + phase[axis]) % period
            cand[:, axis] += (want - cand[:, axis]) % period
            cand[:, axis] = np.where(cand[:, axis] >= top[axis], cand[:, axis] - period, cand[:, axis])
    return cand


def _flat_index(analysis: QuiltAnalysis, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Flat exemplar index of positions (any shape; wrapped when periodic, else clamped)."""
    h, w = analysis.shape
    if analysis.periodic:
        return (ys % h) * w + xs % w
    return np.clip(ys, 0, h - 1) * w + np.clip(xs, 0, w - 1)


def _search_read(analysis: QuiltAnalysis, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """What matching compares (luminance and relief): two channels instead of all the features
    halve the gathers of the search, its costliest step."""
    return analysis.search.reshape(-1, 2).take(_flat_index(analysis, ys, xs), axis=0)


def _candidate_reads(analysis: QuiltAnalysis, cand: np.ndarray, local: np.ndarray) -> np.ndarray:
    """_search_read at every (K, 2) candidate corner plus every (S, 2) local point: (K, S, 2). On a
    photo a candidate's patch lies inside it (_source_range), so the flat index is the corner's plus
    the point's, one addition instead of a clamp per axis (take's clip mode only guards the bounds)."""
    if analysis.periodic:
        return _search_read(analysis, cand[:, 0, None] + local[:, 0], cand[:, 1, None] + local[:, 1])
    w = analysis.shape[1]
    index = (cand[:, 0] * w + cand[:, 1])[:, None] + (local[:, 0] * w + local[:, 1])[None, :]
    return analysis.search.reshape(-1, 2).take(index, axis=0, mode="clip")


def _near(cand: np.ndarray, points: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """(K, P): whether candidate corner k lies within `reach` of point p along both axes."""
    return ((np.abs(cand[:, 0, None] - points[None, :, 0]) < reach[0])
            & (np.abs(cand[:, 1, None] - points[None, :, 1]) < reach[1]))


class ReuseCounts:
    """How many earlier patches' sources lie within a reach of a source corner along both axes (what
    _near over every earlier source gives), kept as a count over the exemplar's corners that each
    placed source raises by a box: constant time per candidate, where comparing with every earlier
    source made the search quadratic in patches (3.4 of 25 s at 8192 px). Whole pixels lie within a
    reach r when at most ceil(r) - 1 away, so the reaches of a layout's patch sizes share few boxes."""

    def __init__(self, shape: tuple[int, int], patches: int):
        self.shape, self.placed, self.maps = shape, [], {}
        self.dtype = np.int16 if patches <= np.iinfo(np.int16).max else np.int32   # counts never exceed `patches`

    def add(self, source: np.ndarray) -> None:
        self.placed.append((int(source[0]), int(source[1])))
        for half, counts in self.maps.items():
            self._raise(counts, self.placed[-1], half)

    def of(self, cand: np.ndarray, reach: np.ndarray) -> np.ndarray:
        """(K,) earlier sources within `reach` of each (K, 2) candidate corner."""
        half = tuple(int(np.ceil(r)) - 1 for r in reach)
        if half not in self.maps:
            self.maps[half] = np.zeros(self.shape, self.dtype)
            for source in self.placed:
                self._raise(self.maps[half], source, half)
        return self.maps[half][cand[:, 0], cand[:, 1]]

    @staticmethod
    def _raise(counts: np.ndarray, source: tuple[int, int], half: tuple[int, int]) -> None:
        (y, x), (a, b) = source, half
        if a >= 0 and b >= 0:
            counts[max(0, y - a):y + a + 1, max(0, x - b):x + b + 1] += 1


def _pick_source(analysis: QuiltAnalysis, rng: np.random.Generator, old: np.ndarray, local: np.ndarray,
                 extent: tuple[int, int], origin: tuple[int, int], phase: np.ndarray,
                 used: ReuseCounts) -> np.ndarray:
    """The source corner of a patch of `extent` pixels whose region already holds `old` (S, 2)
    coordinates at the (S, 2) local sample points `local`: among CANDIDATES places, any within
    TOLERANCE of the best match there; places that would only continue a neighbour's own copy are
    refused, and places near earlier patches' pay REUSE each."""
    cand = _candidates(analysis, rng, extent, origin, phase)
    if not len(old):
        return cand[0]
    template = _search_read(analysis, old[:, 0], old[:, 1])
    here = _candidate_reads(analysis, cand, local)   # (K, S, 2)
    np.subtract(here, template, out=here)
    np.square(here, out=here)
    costs = here.sum(axis=(1, 2))
    reach = NO_REPEAT * np.array(extent)
    offsets = old - local                           # the corners of the neighbours' copies seen here
    continued = offsets[np.unique(offsets[:, 0] * (1 << 32) + offsets[:, 1], return_index=True)[1]]
    costs[_near(cand, continued, reach).any(-1)] = np.inf
    if used.placed:
        costs *= 1.0 + REUSE * used.of(cand, reach)
    if not np.isfinite(costs).any():
        return cand[0]
    ok = np.flatnonzero(costs <= costs.min() * (1 + TOLERANCE) + 1e-6)
    return cand[ok[rng.integers(len(ok))]]


def _grid_points(start: int, length: int, size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Of the output positions start .. start + length - 1 (wrapping at `size`), those on the sample
    grid (multiples of `stride`): (their offsets from start, their grid indices)."""
    offsets = np.arange(length)
    where = (start + offsets) % size
    on = where % stride == 0
    return offsets[on], where[on] // stride


def choose_sources(analysis: QuiltAnalysis, plan: Layout, seed: int, progress=None, row_placed=None) -> np.ndarray:
    """(ny, nx, 2) source corner of every patch, in raster order, each matched against what its
    already placed neighbours put in its region (their uncut copies: the cuts come after), on a
    sample grid of about SEARCH_SAMPLES points across a band: a draft of the field is only kept
    there. progress(fraction), optional, after each row of patches; row_placed(i, sources), optional,
    as row i's sources are final (later rows are still being placed)."""
    height, width = int(plan.ys[-1]), int(plan.xs[-1])
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x9017])
    phase = rng.integers(0, 1 << 16, size=2)
    oy, ox = plan.overlap
    stride = max(1, min(oy, ox) // SEARCH_SAMPLES)
    draft = np.zeros((-(-height // stride), -(-width // stride), 2), np.int64)
    filled = np.zeros(draft.shape[:2], bool)
    sources = np.zeros((len(plan.ys) - 1, len(plan.xs) - 1, 2), np.int64)
    used = ReuseCounts(analysis.shape, sources.shape[0] * sources.shape[1])
    columns = [_grid_points(int(plan.xs[j]) - ox, int(plan.xs[j + 1] - plan.xs[j]) + ox, width, stride)
               for j in range(sources.shape[1])]   # the same for every row of patches
    for i in range(sources.shape[0]):
        origin_y = int(plan.ys[i]) - oy
        ly, gy = _grid_points(origin_y, int(plan.ys[i + 1]) - origin_y, height, stride)
        for j, (lx, gx) in enumerate(columns):
            origin_x = int(plan.xs[j]) - ox
            extent = (int(plan.ys[i + 1]) - origin_y, int(plan.xs[j + 1]) - origin_x)
            grid = np.ix_(gy, gx)
            here, block = filled[grid], draft[grid]
            local = np.stack(np.meshgrid(ly, lx, indexing="ij"), -1)
            src = _pick_source(analysis, rng, block[here], local[here], extent, (origin_y, origin_x), phase, used)
            draft[grid] = np.where(here[..., None], block, src + local)
            filled[grid] = True
            sources[i, j] = src
            used.add(src)
        if row_placed is not None:
            row_placed(i, sources)
        if progress is not None:
            progress((i + 1) / sources.shape[0])
    return sources


# ---------------------------------------------------------------- cutting

ASSEMBLY_PIXELS = 1 << 20     # the field is put together this many pixels at a time (memory at 8192 px)
ERROR_PIXELS = 1 << 20        # the column bands' errors are made this many band pixels at a time


def _cut_error(table: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Flat exemplar indices of two overlapping copies (any shape) -> the cost of a border there:
    their mismatch (mean squared feature difference) plus JOINT_WEIGHT times their relief (a border
    is cheapest in a joint). Channel by channel: no (..., C) temporaries."""
    count = len(table) - 1
    total = None
    for channel in table[:count]:
        difference = channel.take(a)
        difference -= channel.take(b)
        difference *= difference
        total = difference if total is None else np.add(total, difference, out=total)
    total /= np.float32(count)
    relief = table[count].take(a)
    relief += table[count].take(b)
    return total + JOINT_WEIGHT * relief


def _cut_costs(error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, n, b) error of K bands -> (cost (K, n, b + 1) of a border between columns c - 1 and c,
    crossing (K, n, b) of a border that runs along a row between two steps; core.photo.wrap_cut's sums)."""
    error = np.asarray(error, np.float32)
    if error.shape[-1] < 2 or error.shape[-2] < 1:
        return window_sums(error, 1).astype(np.float32), crossing_sums(error, 1, periodic=False).astype(np.float32)
    # wrap_cut's window_sums(error, 1) and crossing_sums(error, 1, periodic=False) straight in float32:
    # their running sums are float32 already and a difference of two float32 numbers rounds the
    # same either way, so the costs are the same, without float64 temporaries
    k, n, b = error.shape
    along = np.cumsum(error, axis=-1)
    cost = np.full((k, n, b + 1), np.inf, np.float32)
    cost[..., 1] = along[..., 1]
    np.subtract(along[..., 2:], along[..., :-2], out=cost[..., 2:b])
    down = np.cumsum(np.concatenate([error[:, :1], error, error[:, -1:]], axis=1), axis=1)
    crossing = np.empty((k, n, b), np.float32)
    crossing[:, 0] = down[:, 1]
    np.subtract(down[:, 2:n + 1], down[:, :n - 1], out=crossing[:, 1:])
    return cost, crossing


def _axis_tables(edges: np.ndarray, overlap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per position along one axis of the field (edges[-1] of them): its cell, the cell whose
    overlap band holds it (-1: none; the band before cell c ends where cell c starts, wrapping)
    and its place in that band (0 .. overlap - 1)."""
    size, count = int(edges[-1]), len(edges) - 1
    cell = np.searchsorted(edges, np.arange(size), side="right") - 1
    band, place = np.full(size, -1, np.int64), np.zeros(size, np.int64)
    where = (edges[:-1, None] - overlap + np.arange(overlap)) % size
    band[where], place[where] = np.arange(count)[:, None], np.arange(overlap)[None, :]
    return cell, band, place


def _column_tables(plan: Layout) -> np.ndarray:
    """(6, W) per output column: whether it lies in a band, that band's cell j (0 outside), its place
    k in the band, the patch and the column within the patch's copy right of the cut (outside bands:
    its own cell's), and the column within the left patch (j - 1, wrapping) when left of the cut."""
    ox, width, nx = plan.overlap[1], int(plan.xs[-1]), len(plan.xs) - 1
    cell, band, place = _axis_tables(plan.xs, ox)
    inside = band >= 0
    j = np.where(inside, band, 0)
    patch = np.where(inside, j, cell)
    column = np.where(inside, place, np.arange(width) - plan.xs[cell] + ox)
    return np.stack([inside, j, place, patch, column, place + np.diff(plan.xs)[(j - 1) % nx]]).astype(np.int32)


def _row_coords(tables: np.ndarray, paths: np.ndarray, sources: np.ndarray, s: np.ndarray, r: np.ndarray,
                x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exemplar (y, x), each (n, len(x)), of rows r (n,) of strips s (n,) (a strip: a row of patches
    joined along its column cuts `paths` (ny, nx, tall)) at output columns x. Outside the bands a
    row is its cells' copies; inside, left of the cut the left patch (j - 1, wrapping)."""
    inside, j, place, patch, column, left_column = tables[:, x]
    nx, tall = paths.shape[1:]
    src_y, src_x = sources[s, :, 0], sources[s, :, 1]              # (n, nx)
    cy = src_y[:, patch] + r[:, None]
    cx = src_x[:, patch] + column
    band = np.flatnonzero(inside)
    jb = j[band]
    left = place[band] < paths.reshape(-1)[(s[:, None] * nx + jb) * tall + r[:, None]]
    prev = (jb - 1) % nx
    cy[:, band] = np.where(left, src_y[:, prev] + r[:, None], cy[:, band])
    cx[:, band] = np.where(left, src_x[:, prev] + left_column[band], cx[:, band])
    return cy, cx


def column_cuts(analysis: QuiltAnalysis, plan: Layout, sources: np.ndarray, table: np.ndarray,
                strips: range | None = None, costs: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(len(strips), nx, tall) the cut in the band before every patch of the strips (default: all):
    per row of its strip, the band column where patch j - 1 (left, wrapping) gives way to patch j.
    Strip i spans rows ys[i] - oy .. ys[i + 1] - 1 and the patches of a row, joined along these
    cuts, tile across; a strip's cuts need only its own row of sources. costs: the strips'
    column_costs, when made beforehand."""
    strips = range(sources.shape[0]) if strips is None else strips
    nx = sources.shape[1]
    cost, crossing = column_costs(analysis, plan, sources, table, strips) if costs is None else costs
    paths = _in_parts(lambda k0, k1: min_cost_paths(cost[k0:k1], crossing[k0:k1])[0], len(strips) * nx)
    return paths.reshape(len(strips), nx, -1).astype(np.int32)


def column_costs(analysis: QuiltAnalysis, plan: Layout, sources: np.ndarray, table: np.ndarray,
                 strips: range, threads: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(cost, crossing) of the column bands of the strips: what the column cuts' dynamic programme
    reads (_cut_costs). A strip's need only its own row of sources (synthesize makes each in a worker
    as the search places that row). threads: the bands of a patch column at a time in threads."""
    return _cut_costs(_column_errors(analysis, plan, sources, table, strips, threads))


def _column_errors(analysis: QuiltAnalysis, plan: Layout, sources: np.ndarray, table: np.ndarray,
                   strips: range, threads: bool = True) -> np.ndarray:
    """(len(strips) nx, tall, ox) cut error in every column band of the strips (0 below a shorter
    strip's end), a group of patch columns at a time (a few calls per strip: the worker that makes them
    beside the search holds the interpreter's lock less), the groups in threads (or in this one)."""
    (oy, ox), width = plan.overlap, int(plan.xs[-1])
    nx = sources.shape[1]
    heights = (np.diff(plan.ys) + oy)[strips.start:strips.stop]
    tall = int((np.diff(plan.ys) + oy).max())
    sources = sources[strips.start:strips.stop]
    ny = len(strips)
    rows, band = np.arange(tall)[:, None], np.arange(ox)
    errors = np.zeros((ny, nx, tall, ox), np.float32)

    def band_errors(j0: int, j1: int) -> None:
        j = np.arange(j0, j1)
        prev = (j - 1) % nx
        shift = plan.xs[j] - ox - (plan.xs[prev] - ox - np.where(j == 0, width, 0))   # the left patch's columns
        left, right = sources[:, prev, :, None, None], sources[:, j0:j1, :, None, None]   # (ny, k, 2, 1, 1)
        errors[:, j0:j1] = _cut_error(table, _flat_index(analysis, left[:, :, 0] + rows, left[:, :, 1] + shift[:, None, None] + band),
                                      _flat_index(analysis, right[:, :, 0] + rows, right[:, :, 1] + band))
        for i in range(ny):
            errors[i, j0:j1, heights[i]:] = 0.0

    step = max(1, min(ERROR_PIXELS // max(1, ny * tall * ox), -(-nx // THREADS) if threads else nx))
    if threads:
        in_bands(nx, step, band_errors)
    else:
        for j0 in range(0, nx, step):
            band_errors(j0, min(nx, j0 + step))
    return errors.reshape(ny * nx, tall, ox)


def _in_parts(work, count: int) -> np.ndarray:
    """work(k0, k1) -> array over batch items k0 .. k1 - 1, for THREADS parts of range(count) side by
    side, concatenated (the cuts' dynamic programmes: each batch item is a problem of its own)."""
    parts = [None] * THREADS
    step = -(-count // THREADS)

    def part(k0: int, k1: int) -> None:
        parts[k0 // step] = work(k0, k1)

    in_bands(count, step, part)
    return np.concatenate([p for p in parts if p is not None])


def row_errors(analysis: QuiltAnalysis, plan: Layout, sources: np.ndarray, table: np.ndarray,
               paths: np.ndarray, strips, out: np.ndarray, threads: bool = True) -> None:
    """Into out[i] (W, oy), for strips i (a range or list): the cut error in the band over strip i,
    where strip i - 1 (above, wrapping) meets it; it needs the column cuts `paths` of both strips.
    In threads (or in this one)."""
    oy, ny = plan.overlap[0], sources.shape[0]
    tables, x, band = _column_tables(plan), np.arange(int(plan.xs[-1])), np.arange(oy)

    def strip_errors(k0: int, k1: int) -> None:
        for i in strips[k0:k1]:
            above = np.full(oy, (i - 1) % ny)
            upper = _row_coords(tables, paths, sources, above, int(np.diff(plan.ys)[i - 1]) + band, x)
            lower = _row_coords(tables, paths, sources, above * 0 + i, band, x)
            out[i] = _cut_error(table, _flat_index(analysis, *upper), _flat_index(analysis, *lower)).T

    if threads:
        in_bands(len(strips), 1, strip_errors)
    else:
        strip_errors(0, len(strips))


def row_cuts(errors: np.ndarray) -> np.ndarray:
    """(ny, W) the cut in the band over every strip, closing round the torus, from its row_errors
    (ny, W, oy): per column, the band row where strip i - 1 (above, wrapping) gives way to strip i.
    One thread: small steps, many of them; each cut closes on itself, opened at its cheapest step."""
    cost, crossing = _cut_costs(errors)
    return min_cost_cycles(cost, starts=1, crossing=crossing)[0]


def _assembly_step(ys: np.ndarray, xs: np.ndarray) -> int:
    return max(1, min(ASSEMBLY_PIXELS // max(1, len(xs)), -(-len(ys) // THREADS)))


def assemble_strips(plan: Layout, sources: np.ndarray, columns: np.ndarray, ys: np.ndarray, xs: np.ndarray,
                    out: np.ndarray, own=None) -> object:
    """Into out (len(ys), len(xs), 2) int32: the exemplar (y, x) of every pixel at rows ys and columns
    xs of the layout as its own strip gives it (left of a column cut the left patch). Rows in a row
    band are finished by overlay_upper once the row cuts are known. In threads; with `own`, own() runs
    in this thread beside one worker's bands, then this thread takes bands too: own()'s result."""
    oy = plan.overlap[0]
    cell, band, place = _axis_tables(plan.ys, oy)
    tables, sources = _column_tables(plan), sources.astype(np.int32)

    def chunk(start: int, stop: int) -> None:
        y = ys[start:stop]
        inside = band[y] >= 0
        i = np.where(inside, band[y], cell[y])
        r = np.where(inside, place[y], y - plan.ys[i] + oy).astype(np.int32)
        out[start:stop, :, 0], out[start:stop, :, 1] = _row_coords(tables, columns, sources, i, r, xs)

    if own is None:
        in_bands(len(ys), _assembly_step(ys, xs), chunk)
        return None
    return alongside(own, len(ys), _assembly_step(ys, xs), chunk)


def overlay_upper(plan: Layout, sources: np.ndarray, columns: np.ndarray, rows_cut: np.ndarray,
                  ys: np.ndarray, xs: np.ndarray, out: np.ndarray) -> None:
    """The rows of out (assemble_strips') that lie in a row band: above the band's cut, the strip above."""
    oy, ny = plan.overlap[0], sources.shape[0]
    _, band, place = _axis_tables(plan.ys, oy)
    tables, cell_rows, sources = _column_tables(plan), np.diff(plan.ys), sources.astype(np.int32)
    at = np.flatnonzero(band[ys] >= 0)

    def chunk(start: int, stop: int) -> None:
        rows = at[start:stop]
        i, k = band[ys[rows]], place[ys[rows]]
        above = (i - 1) % ny
        upper = k[:, None] < rows_cut[i][:, xs]
        uy, ux = _row_coords(tables, columns, sources, above, (k + cell_rows[above]).astype(np.int32), xs)
        out[rows, :, 0] = np.where(upper, uy, out[rows, :, 0])
        out[rows, :, 1] = np.where(upper, ux, out[rows, :, 1])

    in_bands(len(at), _assembly_step(at, xs), chunk)


def _field_picks(plan: Layout, virtual: tuple[int, int], want: tuple[int, int],
                 periods: tuple[int, int]) -> list[np.ndarray]:
    """Rows and columns of the layout that the output reads (core.synthesis.lattice's stretch on an
    axis with a repeat). Cells start at the wrap, so the wrap lines fall just after cut bands, where
    cuts sit in joints: rolled by half a cell the wrap lines run through patch interiors instead,
    like any other line."""
    picks = []
    for size, length, period, edges in zip(virtual, want, periods, (plan.ys, plan.xs)):
        at = lattice_positions(length, period) if period and virtual != want else np.arange(length)
        picks.append((at - int(edges[1]) // 2) % size)
    return picks


CUT_CHUNKS = 8     # the column cuts' programme runs over up to this many groups of strips, a worker making
#                    the row bands' errors of each group meanwhile (the programme is mostly Python steps, the
#                    errors takes)
CHUNK_BANDS = 96   # ... each group at least this many column bands: fewer, smaller steps cost more than they save

# Shares of synthesize's progress: the source search, the column cuts, the row bands' errors, the row
# cuts with the strips' assembly, the rows in row bands (roughly their times in a 4096 px profile).
STEP_SHARES = (0.2, 0.3, 0.15, 0.25, 0.1)


def _search_with_costs(analysis: QuiltAnalysis, plan: Layout, seed: int, table: np.ndarray,
                       progress) -> tuple[np.ndarray, list]:
    """choose_sources, with each strip's column_costs made by a worker as its row of sources is placed
    (the search is Python steps on one thread, the costs takes that let it run); the strips the worker
    has not begun when the search ends are made here, in threads: (sources, per strip its (cost, crossing))."""
    with one_worker() as worker:
        made = []
        sources = choose_sources(analysis, plan, seed, progress, lambda i, placed: made.append(
            worker.submit(column_costs, analysis, plan, placed, table, range(i, i + 1), False)))
        first = len(made)   # the strips the worker has not begun (taken back from the last): made here, in threads
        while first and made[first - 1].cancel():
            first -= 1
        rest = []
        if first < len(made):
            cost, crossing = column_costs(analysis, plan, sources, table, range(first, len(made)))
            nx = sources.shape[1]
            rest = [(cost[k:k + nx], crossing[k:k + nx]) for k in range(0, len(cost), nx)]
        return sources, [job.result() for job in made[:first]] + rest


def _cuts_with_row_errors(analysis: QuiltAnalysis, plan: Layout, sources: np.ndarray, table: np.ndarray,
                          costs: list, errors: np.ndarray, progress) -> np.ndarray:
    """The column cuts (ny, nx, tall) from each strip's costs, in groups of strips, a worker making the
    row bands' errors (into `errors`) of each group as it ends; the last group's bands, those of the groups
    the worker has not begun and the band that wraps (over strip 0) are made here in threads.
    progress(fraction) after each group."""
    ny = len(costs)
    columns = np.empty((ny, len(plan.xs) - 1, costs[0][0].shape[1]), np.int32)
    chunk = max(-(-ny // CUT_CHUNKS), -(-CHUNK_BANDS // (len(plan.xs) - 1)))
    with one_worker() as worker:
        made = []
        for s0 in range(0, ny, chunk):
            s1 = min(ny, s0 + chunk)
            group = tuple(np.concatenate(c) for c in zip(*costs[s0:s1]))
            columns[s0:s1] = column_cuts(analysis, plan, sources, table, range(s0, s1), group)
            costs[s0:s1] = [None] * (s1 - s0)   # let go of what the programme has read
            if s1 < ny:
                strips = range(max(1, s0), s1)
                made.append((strips, worker.submit(row_errors, analysis, plan, sources, table, columns, strips,
                                                   errors, False)))
            progress(s1 / ny)
        taken = []   # the groups the worker has not begun (taken back from the last) are made here too
        while made and made[-1][1].cancel():
            taken = [*made.pop()[0], *taken]
        row_errors(analysis, plan, sources, table, columns, [0, *taken, *range(max(1, s0), ny)], errors)
        for _, job in made:
            job.result()
    return columns


def _on_repeats(analysis: QuiltAnalysis, height: int, width: int) -> tuple[QuiltAnalysis, tuple[int, int]]:
    """(the analysis with the repeats a height x width output keeps, the field's size before the stretch:
    a whole number of repeats on each axis that keeps one)."""
    periods = tuple(p if keeps_repeat(size, p) else 0 for p, size in zip(analysis.periods, (height, width)))
    virtual = tuple(round(size / p) * p if p else size for p, size in zip(periods, (height, width)))
    return replace(analysis, periods=periods), virtual


def patch_region(analysis: QuiltAnalysis, height: int, width: int) -> tuple[int, int]:
    """(rows, columns): the most output pixels one patch's copy can cover in a height x width field on
    each axis -- its cell and the overlap band it reaches back over (the next patch's cut lies inside
    the cell), at most the whole axis. A verbatim copy larger than this is two patches continuing one
    copy (trainer.quality's verbatim_patches)."""
    analysis, virtual = _on_repeats(analysis, height, width)
    plan = layout(analysis, *virtual)
    return tuple(min(size, -(-(int(np.diff(edges).max()) + band) * size // v))
                 for edges, band, size, v in zip((plan.ys, plan.xs), plan.overlap, (height, width), virtual))


def synthesize(analysis: QuiltAnalysis, height: int, width: int, seed: int, progress=None) -> np.ndarray:
    """(height, width, 2) int32 exemplar (y, x) of every output pixel; deterministic per seed,
    exactly periodic (every band wraps on the output torus).

    On an axis with a repeat P the patches keep one phase, and the field is made a whole number of
    repeats long and stretched to the size asked for (core.synthesis.lattice.lattice_positions: a row or
    column repeated or skipped now and then, a few per cent): so joints meet across the wrap band
    too. Outputs too short for the repeat (core.synthesis.lattice.keeps_repeat) drop it on that axis.

    The single-threaded steps each have a worker beside them: the source search the strips' column
    costs (_search_with_costs), the column cuts' programme the row bands' errors (_cuts_with_row_errors),
    the row cuts' programme (one small step per output column) the strips' assembly; only the rows in
    row bands wait for the row cuts. progress(fraction),
    optional, is called as the steps end (it may raise to stop the work)."""
    analysis, virtual = _on_repeats(analysis, height, width)
    plan = layout(analysis, *virtual)
    ny, oy = len(plan.ys) - 1, plan.overlap[0]
    done = np.cumsum((0.0,) + STEP_SHARES)

    def step(k: int, fraction: float = 1.0) -> None:
        if progress is not None:
            progress(float(done[k] + fraction * STEP_SHARES[k]))

    table = analysis.table
    sources, costs = _search_with_costs(analysis, plan, seed, table, lambda f: step(0, f))
    errors = np.empty((ny, virtual[1], oy), np.float32)
    columns = _cuts_with_row_errors(analysis, plan, sources, table, costs, errors, lambda f: step(1, f))
    step(2)
    picks = _field_picks(plan, virtual, (height, width), analysis.periods)
    coords = np.empty((height, width, 2), np.int32)
    # the row cuts here, the assembly in one worker (a second took the programme's core: 4096 px 1.07 -> 0.87 s)
    rows_cut = assemble_strips(plan, sources, columns, *picks, coords, own=lambda: row_cuts(errors))
    step(3)
    overlay_upper(plan, sources, columns, rows_cut, *picks, coords)
    step(4)
    if analysis.periodic:
        coords %= np.array(analysis.shape, np.int32)
    return coords


# ---------------------------------------------------------------- where patches meet

def border_pairs(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(across_x, across_y) (H, W) bool: pixel p and its right / lower neighbour (wrapping) come
    from different patches -- their exemplar coordinates do not continue each other. A step of one
    pixel too many or too few still continues (a lattice's stretch, core.synthesis.lattice, skips or repeats
    a row now and then inside a patch)."""
    cy, cx = coords[..., 0].astype(np.int64), coords[..., 1].astype(np.int64)
    across_x = (np.abs(np.roll(cy, -1, 1) - cy) > 1) | (np.abs(np.roll(cx, -1, 1) - cx - 1) > 1)
    across_y = (np.abs(np.roll(cy, -1, 0) - cy - 1) > 1) | (np.abs(np.roll(cx, -1, 0) - cx) > 1)
    return across_x, across_y
