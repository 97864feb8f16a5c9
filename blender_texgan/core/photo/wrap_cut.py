"""Wrap cut: a photo made periodic by keeping it whole and cutting its wrap border through the
overlap, with minimum-error boundary cuts as in Efros & Freeman's image quilting (2001).

The output's period is the photo's side minus an overlap band, per axis: T = S - b. Laid on a torus of
period T, the photo's first b columns and its last b columns (S - b .. S - 1) fall on the same output
columns 0 .. b - 1. There the left strip and the wrapped right strip are joined along the path of least
squared colour difference (dynamic programming, one cut position per row): left of the cut the right
strip, right of it the left strip. Between two rows the cut may move any number of columns, paying for
the seam it draws along the row boundary there; image quilting's cut moves at most one column for
free. So a cut can follow a joint across the band (the mortar between staggered bricks) instead of
slanting through brick faces: on scikit-image's brick photo the seams' energy halves
(benchmarks/seamless.py, ``seam_energy``). Either side of the band
the photo continues itself (output column T - 1 is photo column T - 1, next to photo column T; output
column b is photo column b, next to b - 1), so the only seam is the cut. Then the same for rows, on the
columns already cut: the bottom strip and the top strip joined along a horizontal path that closes on
itself round the columns' torus. Cutting rows after columns handles the corner where the bands cross:
each source row brings its own column cut, and the row cut's cost is measured on those cut rows.

The result is a coordinate field (every output pixel is one photo pixel, ``field``): it is read like a
synthesised field (core.synthesis.read_field.apply_field, whose patch-border blend feathers the cut over a few
pixels), tiles exactly by construction, and scales: read through core.photo.upscale it takes the full-
resolution photo's pixels through the same cut. The band width per axis is the one of a few tried
whose cut costs least (``find_wrap_cut``); on a lattice (core.synthesis.lattice) only periods of whole repeats
are tried, so joints and rows line up across the wrap.

Pure numpy: never imports bpy, torch or PIL.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BAND_RANGE = (1 / 8, 1 / 4)      # overlap bands tried: this share of the side, both ends included
BAND_STEPS = 17                  # ... this many widths evenly over the range
ASPECT_SLACK = 0.06              # the rows' band keeps the period's aspect within this share of the photo's
LATTICE_BAND_RANGE = (1 / 16, 1 / 3)  # on a lattice: every whole number of repeats leaving a band in this range
TIE_SHARE = 0.03                 # bands whose cut costs within this share of the cheapest: the narrowest wins
START_CANDIDATES = 3             # closed cuts: start positions tried at the anchor column
_MOVES = np.array([0, -1, 1], np.int8)  # a path moves at most one position per step; ties: straight on


@dataclass(frozen=True)
class WrapCut:
    """Where a photo of `shape` (H, W) is cut to tile. period (Ty, Tx) = (H - by, W - bx); band (by, bx).
    column_cut (H,): per photo row y, the output column c where the right strip gives way to the left
    strip (columns u < c read photo column u + Tx, the rest column u). row_cut (Tx,): per output column
    u, the output row r where the bottom strip gives way to the top strip (rows v < r read photo row
    v + Ty, with that row's column cut). cost: mean squared difference across the cuts over the mean
    squared difference between neighbouring photo pixels (about 1: the cut looks like any pixel step)."""
    shape: tuple[int, int]
    period: tuple[int, int]
    band: tuple[int, int]
    column_cut: np.ndarray
    row_cut: np.ndarray
    cost: float


# ---------------------------------------------------------------- minimum-cost paths

def _floats(a) -> np.ndarray:
    a = np.asarray(a)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def min_cost_paths(cost: np.ndarray, crossing: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest paths through a batch of (K, n, m) cost arrays: per batch item, one position of m per
    step of n, moving at most one position per step (infinite cost: forbidden). Returns (paths (K, n)
    int64, totals (K,)); the path ends where the total is least (ties: the lowest position). Sums in
    the costs' float type (float32 halves the memory of large bands).

    crossing (K, n, m - 1), optional: then a path may move any number of positions between steps
    i - 1 and i instead, paying crossing[:, i, r] for each position boundary r | r + 1 it passes: a
    cut may run along a joint between two steps (see LongMoves), and a slanted cut pays for the
    seam it draws."""
    cost = _floats(cost)
    k, n, m = cost.shape
    total = cost[:, 0].copy()
    back = np.zeros((k, n, m), np.int8 if crossing is None else np.int32)
    inf = np.full((k, 1), np.inf, cost.dtype)
    below, positions = None, np.arange(m, dtype=np.int32)
    if crossing is not None and n > 1:
        long_moves, total = LongMoves(k, m), total.astype(np.float64)   # a jump's sums are float64
    for i in range(1, n):
        if crossing is None:
            options = np.stack([total, np.concatenate([inf, total[:, :-1]], 1), np.concatenate([total[:, 1:], inf], 1)])
            pick = options.argmin(axis=0)
            step = np.take_along_axis(options, pick[None], 0)[0]
            back[:, i] = _MOVES[pick]
            total = step + cost[:, i]
        else:
            if (i - 1) % STEP_BLOCK == 0:
                below = _crossings_below(crossing[:, i:i + STEP_BLOCK])
            step, origin = long_moves(total, below[:, (i - 1) % STEP_BLOCK])
            np.subtract(origin, positions, out=back[:, i])
            np.add(step, cost[:, i], out=total)
    paths = np.empty((k, n), np.int64)
    paths[:, -1] = total.argmin(axis=1)
    rows = np.arange(k)
    for i in range(n - 1, 0, -1):
        paths[:, i - 1] = paths[:, i] + back[rows, i, paths[:, i]]
    return paths, total[rows, paths[:, -1]]


STEP_BLOCK = 64   # steps whose crossing sums are prepared in one go (few calls, little memory)


def _crossings_below(crossing: np.ndarray) -> np.ndarray:
    """(K, b, m - 1) boundary crossing costs of b steps -> (K, b, m) float64 S: per step, the sum of
    the crossings below each position (infinite ones counted as 1e12, so sums stay finite)."""
    edges = np.minimum(np.asarray(crossing, np.float64), 1e12)   # costs are never negative nor NaN
    out = np.zeros(edges.shape[:2] + (edges.shape[2] + 1,))
    np.cumsum(edges, axis=2, out=out[:, :, 1:])
    return out


class LongMoves:
    """The long moves of one step of min_cost_paths (crossing given): (K, m) totals at the step and
    (K, m) crossings below each position (_crossings_below) -> the least total reaching each position
    by a jump from any other, and where that jump starts. A jump q -> p costs S[p] - S[q] (q < p) or
    S[q] - S[p] (q > p): running minima of total - S upwards and total + S downwards give every
    position's best origin at once. Its work arrays are kept between steps: a step allocates nothing
    (a column band's programme moves megabytes a step; fresh arrays each time cost as much again)."""

    def __init__(self, k: int, m: int):
        self.k, self.m = k, m
        self.idx = np.arange(m, dtype=np.int32)   # 32-bit positions: the running maximum moves half the bytes
        self.both, self.run = np.empty((2 * k, m)), np.empty((2 * k, m))   # rows K..2K-1 run downwards (reversed)
        self.mask, self.origin = np.empty((2 * k, m), bool), np.empty((2 * k, m), np.int32)
        self.up, self.down, self.better = np.empty((k, m)), np.empty((k, m)), np.empty((k, m), bool)
        self.step, self.start = np.empty((k, m)), np.empty((k, m), np.int32)

    def __call__(self, total: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k, m = self.k, self.m
        np.subtract(total, s, out=self.both[:k])
        np.add(total, s, out=self.both[k:, ::-1])
        np.minimum.accumulate(self.both, axis=1, out=self.run)
        np.less_equal(self.both, self.run, out=self.mask)
        np.multiply(self.mask, self.idx, out=self.origin)             # the position where the running minimum was set
        np.maximum.accumulate(self.origin, axis=1, out=self.origin)
        np.add(self.run[:k], s, out=self.up)
        np.subtract(self.run[k:, ::-1], s, out=self.down)
        np.less_equal(self.up, self.down, out=self.better)
        np.copyto(self.step, self.down)
        np.copyto(self.step, self.up, where=self.better)
        np.subtract(m - 1, self.origin[k:, ::-1], out=self.start)
        np.copyto(self.start, self.origin[:k], where=self.better)
        return self.step, self.start


def min_cost_cycles(cost: np.ndarray, starts: int = START_CANDIDATES,
                    crossing: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Like min_cost_paths, but each path closes on itself (its last and first positions at most one
    apart), for a cut round a torus. The cycle is opened at the step whose best position is cheapest
    (the anchor), starting from each of its `starts` cheapest positions in turn; the cheapest wins."""
    cost = _floats(cost)
    k, n, m = cost.shape
    anchor = cost.min(axis=2).argmin(axis=1)                       # (K,)
    rolled = np.stack([np.roll(c, -int(a), axis=0) for c, a in zip(cost, anchor)])
    if crossing is not None:
        crossing = np.repeat(np.stack([np.roll(c, -int(a), axis=0) for c, a in zip(crossing, anchor)]), starts, axis=0)
    first = np.argsort(rolled[:, 0], axis=1, kind="stable")[:, :starts]   # (K, starts)
    trial = np.repeat(rolled, starts, axis=0)                      # (K * starts, n, m)
    begin = first.reshape(-1)
    opening = np.full((k * starts, m), np.inf, cost.dtype)
    opening[np.arange(k * starts), begin] = trial[np.arange(k * starts), 0, begin]
    trial[:, 0] = opening
    # close the cycle: the last position must lie within one of the start
    near = np.abs(np.arange(m)[None, :] - begin[:, None]) <= 1
    trial[:, -1] = np.where(near, trial[:, -1], np.inf)
    paths, totals = min_cost_paths(trial, crossing)
    best = np.argmin(totals.reshape(k, starts), axis=1) + np.arange(k) * starts
    paths = np.stack([np.roll(p, int(a)) for p, a in zip(paths[best], anchor)])
    return paths, totals[best]


def window_sums(error: np.ndarray, half: int) -> np.ndarray:
    """(..., b) error across a band -> (..., b + 1) cost of a cut at each position c = 0..b: the sum of
    the errors of the 2 half pixels round it (c - half .. c + half - 1, the pixels its blend touches);
    positions whose window leaves the band are infinite."""
    b = error.shape[-1]
    csum = np.concatenate([np.zeros(error.shape[:-1] + (1,)), np.cumsum(error, axis=-1)], axis=-1)
    out = np.full(error.shape[:-1] + (b + 1,), np.inf)
    if b >= 2 * half:
        out[..., half:b - half + 1] = csum[..., 2 * half:] - csum[..., :b - 2 * half + 1]
    return out


def crossing_sums(error: np.ndarray, half: int, periodic: bool) -> np.ndarray:
    """(..., n, b) error of a band (or a batch of bands), step by position pixel -> (..., n, b) cost
    for a cut that jumps between steps i - 1 and i to cross pixel r: the errors of the 2 half steps
    round that boundary (i - half .. i + half - 1, the pixels the blend touches), wrapping round
    when periodic, else the band's end rows repeated."""
    n = error.shape[-2]
    if periodic:
        ends = error[..., -half:, :], error[..., :half, :]
    else:
        ends = np.repeat(error[..., :1, :], half, axis=-2), np.repeat(error[..., -1:, :], half, axis=-2)
    pad = np.concatenate([ends[0], error, ends[1]], axis=-2)
    csum = np.concatenate([np.zeros(error.shape[:-2] + (1, error.shape[-1])), np.cumsum(pad, axis=-2)], axis=-2)
    return csum[..., 2 * half:2 * half + n, :] - csum[..., :n, :]


# ---------------------------------------------------------------- cutting

def neighbour_energy(image: np.ndarray) -> float:
    """Mean squared difference (summed over channels) between horizontal and vertical neighbours."""
    a = np.asarray(image, np.float64)
    return 0.5 * float(((a[:, 1:] - a[:, :-1]) ** 2).sum(-1).mean() + ((a[1:] - a[:-1]) ** 2).sum(-1).mean())


def band_candidates(side: int, period: int, half: int) -> list[int]:
    """Overlap bands to try along an axis of `side` pixels: BAND_STEPS widths over BAND_RANGE, or, on a
    lattice of `period`, the bands that leave a whole number of repeats (LATTICE_BAND_RANGE); never
    narrower than a cut and its blend need (2 half + 2 pixels)."""
    least = 2 * half + 2
    if period:
        lo, hi = (max(least, int(np.ceil(side * f))) for f in LATTICE_BAND_RANGE)
        bands = sorted({side - n * period for n in range(1, side // period + 1)} & set(range(lo, hi + 1)))
        if bands:
            return bands
    lo, hi = (max(least, int(round(side * f))) for f in BAND_RANGE)
    return sorted({int(round(b)) for b in np.linspace(lo, hi, BAND_STEPS)})


def _stretch(rows, columns, aspect: float) -> np.ndarray:
    """|log| of how far periods of `rows` x `columns` are from the photo's aspect (rows / columns)."""
    return np.abs(np.log(np.asarray(rows) / np.asarray(columns)) - np.log(aspect))


def _pick(bands: list[int], costs: np.ndarray) -> int:
    """Index of the narrowest band whose cost is within TIE_SHARE of the cheapest."""
    ok = np.flatnonzero(costs <= costs.min() * (1 + TIE_SHARE) + 1e-12)
    return int(ok[np.argmin(np.asarray(bands)[ok])])


def find_wrap_cut(image: np.ndarray, periods: tuple[int, int] = (0, 0), half: int = 3, joints: bool = True) -> WrapCut:
    """The wrap cut of an (H, W, C) image (see the module doc): columns first, then rows.

    Per axis the band of band_candidates whose cut costs least (ties: the narrowest); the rows' bands
    are those that keep the period's aspect within ASPECT_SLACK of the photo's, so that fitting the
    period to a square output stretches one axis against the other by at most that much.
    periods: the image's lattice repeat per axis (core.synthesis.lattice.axis_periods; 0: none). half: a cut's
    cost counts the 2 half pixels round it (the blend that feathers it reaches SOFTEN + 1 = 3).
    joints: a cut may run any distance along the band between two steps, paying for the seam it
    draws there (so it can follow a joint across the band: crossing_sums); False: one position per
    step, as in image quilting."""
    a = np.asarray(image, np.float64)
    a = a[..., None] if a.ndim == 2 else a
    h, w = a.shape[:2]
    jump = max(neighbour_energy(a), 1e-12)

    # columns: per candidate band bx, one open path down the rows (of the bands that some rows' band
    # can match in aspect, when there are any: a lattice along the rows may leave few)
    bands_x = band_candidates(w, periods[1], half)
    bands_y = np.asarray(band_candidates(h, periods[0], half))
    matched = [b for b in bands_x if (_stretch(h - bands_y, w - b, h / w) <= np.log1p(ASPECT_SLACK)).any()]
    bands_x = matched or bands_x
    width = max(bands_x) + 1
    stack = np.full((len(bands_x), h, width), np.inf, np.float32)
    crossing = np.full((len(bands_x), h, width - 1), np.inf, np.float32)
    for i, b in enumerate(bands_x):
        error = ((a[:, :b] - a[:, w - b:]) ** 2).sum(-1)
        stack[i, :, :b + 1] = window_sums(error, half)
        crossing[i, :, :b] = crossing_sums(error, half, periodic=False)
    paths, totals = min_cost_paths(stack, crossing if joints else None)
    costs_x = totals.astype(np.float64) / (h * 2 * half * jump)
    pick_x = _pick(bands_x, costs_x)
    bx, column_cut = bands_x[pick_x], paths[pick_x]
    tx = w - bx

    # rows: the column-cut photo (H, Tx); per candidate band by, one closed path round the columns
    cols = np.arange(tx)[None, :]
    cut = a[np.arange(h)[:, None], cols + tx * (cols < column_cut[:, None])]
    stretch = _stretch(h - bands_y, tx, h / w)
    keep = stretch <= np.log1p(ASPECT_SLACK)
    bands_y = [int(b) for b in (bands_y[keep] if keep.any() else bands_y[[np.argmin(stretch)]])]
    height = max(bands_y) + 1
    stack = np.full((len(bands_y), tx, height), np.inf, np.float32)
    crossing = np.full((len(bands_y), tx, height - 1), np.inf, np.float32)
    for i, b in enumerate(bands_y):
        error = ((cut[:b] - cut[h - b:]) ** 2).sum(-1)    # (b, Tx)
        stack[i, :, :b + 1] = window_sums(error.T, half)
        crossing[i, :, :b] = crossing_sums(error.T, half, periodic=True)
    paths, totals = min_cost_cycles(stack, crossing=crossing if joints else None)
    costs_y = totals.astype(np.float64) / (tx * 2 * half * jump)
    pick_y = _pick(bands_y, costs_y)
    by, row_cut = bands_y[pick_y], paths[pick_y]
    cost = 0.5 * float(costs_x[pick_x] + costs_y[pick_y])
    return WrapCut((h, w), (h - by, tx), (by, bx), column_cut.astype(np.int32), row_cut.astype(np.int32), cost)


def seam_energy(image: np.ndarray, coords: np.ndarray) -> float:
    """How much a coordinate field's seams show: over every pair of neighbouring output pixels that
    are not neighbours in the image (wrapping round the field), the squared difference between the
    second pixel and the image pixel that naturally follows the first; summed, per output pixel, over
    the image's neighbour_energy (so a field with as many seams as pixels, each like a pixel step,
    scores about 1; no seams, 0)."""
    a = np.asarray(image, np.float64)
    a = a[..., None] if a.ndim == 2 else a
    h, w = a.shape[:2]
    total = 0.0
    for axis, step in ((1, (0, 1)), (0, (1, 0))):
        after = np.roll(coords, -1, axis=axis)
        natural = coords + np.asarray(step)
        seam = np.any(natural != after, axis=-1) & (natural[..., 0] < h) & (natural[..., 1] < w)
        nat, got = natural[seam], after[seam]
        total += float(((a[nat[:, 0], nat[:, 1]] - a[got[:, 0], got[:, 1]]) ** 2).sum())
    return total / coords[..., 0].size / max(neighbour_energy(a), 1e-12)


def field(cut: WrapCut) -> np.ndarray:
    """(Ty, Tx, 2) int32 photo (y, x) of every output pixel: the photo laid on the torus, read through
    the cuts. Exactly periodic: every neighbour pair across the output's wrap border is a pair of
    neighbouring photo pixels, unless the cut itself passes there."""
    ty, tx = cut.period
    rows = np.arange(ty)[:, None]
    cols = np.arange(tx)[None, :]
    source_row = rows + ty * (rows < cut.row_cut[None, :])
    source_col = cols + tx * (cols < cut.column_cut[source_row])
    return np.stack(np.broadcast_arrays(source_row, source_col), axis=-1).astype(np.int32)
