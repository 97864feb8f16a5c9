"""Exemplar-guided refinement: coordinate synthesis on a torus (the quality issue, #11).

Every output pixel points at an exemplar pixel; one coordinate field serves all maps, so they stay
aligned, and detail is copied from the photographic exemplar. The method follows Lefebvre & Hoppe
("Parallel Controllable Texture Synthesis", 2005; "Appearance-Space Texture Synthesis", 2006) with
k-coherence candidates (Tong et al. 2002), split as the papers split it:

* ``analyse(exemplar)`` -- once per exemplar, in core.synthesis.exemplar_analysis (at export; its
  arrays go into the model file): appearance vectors, their mix and k-coherence lists per level.
* ``synthesize(analysis, height, width, seed, guide=None)`` -- per seed and size, coarse to fine.
  The coarsest level starts as tiles copied from hashed exemplar places (or, given a guide -- the
  net's output, which carries layout and per-seed variation -- from the places that match the guide
  best). Then per level: upsample (child = 2 * parent + offset), jitter (hashed tiles of pixels move
  together), and correct in four interleaved sub-passes, each pixel taking the best of its coherent
  and k-coherence candidates, the latter handicapped by a coherence bias; a last cleanup pass lets
  stray pixels join a neighbour's patch. Levels without lists only get the cleanup (it moves patch
  borders); levels finer than MAX_CORRECT_PIXELS are only upsampled, copying patches whole.
* maps are read through the field by core.synthesis.read_field.apply_field.

Torus: every neighbour read on the output wraps (its size is the period), so the output tiles by
construction. The exemplar is read as a torus too; a non-periodic exemplar (a photo) is filtered
with mirrored borders and pixels near its border are never chosen (``valid``).

Exact twin: after the plan and the per-level tables (numpy, shared), synthesis works on integers
only -- quantised features, distances that provably fit int32 (int64 once weighted by a guide),
hashed randomness, ties to the first candidate -- so the torch twin in engine/nets/refine_torch.py makes
the very same field. Pure numpy: never imports bpy or torch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .exemplar_analysis import (
    OFFSETS,
    ExemplarAnalysis,
    feature_limit,
    gaussian_pyramid,
    image_appearance,
    mix_parts,
    mixed_features,
)

MAX_CORRECT_PIXELS = 256 * 256   # synthesis corrects output levels up to this size, then upsamples
CHUNK_PIXELS = 1 << 18       # steps over a whole level work on about this many pixels at a time (memory)
UNIT = 8                     # weights are whole eighths, so every distance stays an exact integer
MAX_WEIGHT = 8.0             # largest guide weight and coherence bias (see feature_limit)
JITTER_TILE = 4              # jitter moves tiles of this many pixels a side (pieces, not single pixels)
GUIDE_POOL = 64              # exemplar tiles tried per block when a guide lays out the coarsest level
MASK32 = 0xFFFFFFFF
# Synthesis defaults (both engines): measured on CC0 stone and paving exemplars. Tiles of a fifth of
# the exemplar's smaller side keep whole stones (0.15 broke them into a mosaic, by eye and on the
# band-pass and fine SWD measures) and still keep the largest verbatim copy under a quarter of that
# side; one correction pass scored as well as two.
PASSES, JITTER, COHERENCE, PATCH, GUIDE_WEIGHT = 1, 0.2, 8.0, 0.2, 1.0
SALT_INIT, SALT_JITTER, SALT_POOL = 1, 2, 3

SUBPASSES = ((0, 0), (1, 1), (0, 1), (1, 0))
JITTER_OFFSETS = np.array([(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if dy or dx], np.int64)


# ---------------------------------------------------------------- tables both engines share

@dataclass(frozen=True)
class LevelTables:
    """One analysed level, ready for synthesis (derived from the analysis; nothing stored).

    n = h * w exemplar pixels. parts (9, n, M) int32: each offset's share of a mixed feature;
    features (M, n) int32: every exemplar pixel's mixed feature; appearance (D, n) int32;
    similar (k, n) int32; valid_flat (v,) int64: the pixels synthesis may choose; invalid (n,) bool,
    or None when every pixel is valid.
    """
    shape: tuple[int, int]
    shift: int
    limit: int
    parts: np.ndarray
    features: np.ndarray
    appearance: np.ndarray
    similar: np.ndarray
    valid_flat: np.ndarray
    invalid: np.ndarray | None


def level_tables(analysis: ExemplarAnalysis, level: int) -> LevelTables:
    """The tables synthesis reads at one analysed pyramid level."""
    i = level - int(analysis.first_level)
    appearance, mix = analysis.appearance[i], analysis.mix[i]
    shift, limit = int(analysis.shift[i]), feature_limit(mix.shape[-1])
    parts = mix_parts(appearance, mix)
    features = mixed_features(parts, shift, limit)
    h, w, m = features.shape
    valid = analysis.valid[i].ravel() > 0
    return LevelTables(shape=(h, w), shift=shift, limit=limit,
                       parts=np.ascontiguousarray(parts.reshape(len(OFFSETS), h * w, m)),
                       features=np.ascontiguousarray(features.reshape(h * w, m).T),
                       appearance=np.ascontiguousarray(appearance.reshape(h * w, -1).T.astype(np.int32)),
                       similar=np.ascontiguousarray(analysis.similar[i].reshape(h * w, -1).T.astype(np.int32)),
                       valid_flat=np.flatnonzero(valid).astype(np.int64),
                       invalid=None if valid.all() else ~valid)


@dataclass(frozen=True)
class Plan:
    """Everything synthesis decides before touching a pixel, in integers both engines share.

    Levels coarsest .. finest are corrected (finer ones only upsampled); block: side in coarsest
    output pixels of the tiles the coarsest level starts from; jitter: threshold on 16 hash bits;
    guide, coherence: weights in UNITs.
    """
    coarsest: int
    finest: int
    passes: int
    block: int
    jitter: int
    guide: int
    coherence: int


def _units(name: str, value: float) -> int:
    """A weight in whole UNITs, or ValueError when outside [0, MAX_WEIGHT]."""
    if not 0.0 <= value <= MAX_WEIGHT:
        raise ValueError(f"{name} must be between 0 and {MAX_WEIGHT}")
    return int(round(value * UNIT))


def plan(analysis: ExemplarAnalysis, height: int, width: int, passes: int = PASSES, jitter: float = JITTER,
         coherence: float = COHERENCE, patch: float = PATCH, guide_weight: float = GUIDE_WEIGHT,
         max_correct_pixels: int = MAX_CORRECT_PIXELS) -> Plan:
    """Check the options and fix the levels: the coarsest divides both sides exactly (every level is
    a torus of whole pixels); the finest corrected is the first analysed level whose output has at
    most max_correct_pixels (the coarsest is always corrected)."""
    if height < 1 or width < 1:
        raise ValueError(f"output size {height}x{width} is empty")
    if not 0.0 <= jitter <= 1.0 or not 0.0 < patch <= 1.0 or passes < 0:
        raise ValueError("jitter must be in [0, 1], patch in (0, 1] and passes >= 0")
    coarsest, first = analysis.levels - 1, int(analysis.first_level)
    while coarsest > 0 and (height % (1 << coarsest) or width % (1 << coarsest)):
        coarsest -= 1
    if coarsest < first:
        raise ValueError(f"output size {height}x{width} must be a multiple of {1 << first} "
                         f"(a multiple of {1 << (analysis.levels - 1)} is best)")
    finest = first
    while finest < coarsest and (height >> finest) * (width >> finest) > max_correct_pixels:
        finest += 1
    block = max(1, int(round(patch * min(analysis.level_shape(coarsest)))))
    return Plan(coarsest=coarsest, finest=finest, passes=int(passes), block=block,
                jitter=int(round(jitter * 65536)), guide=_units("guide_weight", guide_weight),
                coherence=_units("coherence", coherence))


def resize_periodic(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w, C) -> (height, width, C) on the torus: box average for whole factors, else bilinear with wrap."""
    img = np.asarray(image, np.float32)
    h, w = img.shape[:2]
    if (h, w) == (height, width):
        return img
    if h % height == 0 and w % width == 0:
        fy, fx = h // height, w // width
        return img.reshape(height, fy, width, fx, -1).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)
    ys = (np.arange(height) + 0.5) * h / height - 0.5
    xs = (np.arange(width) + 0.5) * w / width - 0.5
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    ty, tx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    r0, r1 = img[y0 % h], img[(y0 + 1) % h]
    top = r0[:, x0 % w] * (1 - tx) + r0[:, (x0 + 1) % w] * tx
    bottom = r1[:, x0 % w] * (1 - tx) + r1[:, (x0 + 1) % w] * tx
    return (top * (1 - ty) + bottom * ty).astype(np.float32)


@dataclass(frozen=True)
class GuideFeatures:
    """A guide described like the exemplar: features {level: (M, H_l * W_l) int32} for the
    corrected levels, and appearance (D, H_c * W_c) int32 at the coarsest."""
    features: dict
    appearance: np.ndarray


def guide_features(analysis: ExemplarAnalysis, guide: np.ndarray, height: int, width: int,
                   the_plan: Plan) -> GuideFeatures:
    """A guide image (gh, gw, C) in the exemplar's channels -> GuideFeatures.

    The guide is resized (on the torus) to the finest corrected level, filtered down like the
    exemplar and described with the exemplar's own PCA and mix, so guide and exemplar compare.
    Shared by both engines: their integer inputs are then identical.
    """
    g = np.asarray(guide, np.float32)
    channels = analysis.mean.shape[1] // 25
    if g.ndim != 3 or g.shape[2] != channels or not np.isfinite(g).all():
        raise ValueError(f"guide must be a finite (h, w, {channels}) image, got shape {g.shape}")
    lo, hi = the_plan.finest, the_plan.coarsest
    pyramid = gaussian_pyramid(resize_periodic(g, height >> lo, width >> lo), hi - lo + 1)
    features, appearance = {}, None
    for level, image in zip(range(lo, hi + 1), pyramid):
        appearance, features[level] = _describe(analysis, level - int(analysis.first_level), image)
    return GuideFeatures(features, appearance.astype(np.int32))


def _describe(analysis: ExemplarAnalysis, i: int, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An (h, w, C) image on a torus described at analysed level i -> ((D, h w) int8 appearance,
    (M, h w) int32 mixed features). A group of rows at a time, read with the 3 rows beyond each
    side that a 5x5 appearance and a 3x3 mix reach: a 2048 px guide level in 0.3 GB, not 5 GB."""
    h, w = image.shape[:2]
    mix, limit = analysis.mix[i], feature_limit(analysis.mix[i].shape[-1])
    group = max(1, CHUNK_PIXELS // (4 * w))
    starts, halo = ([0], 0) if group + 6 >= h else (range(0, h, group), 3)
    appearance = np.empty((analysis.basis[i].shape[-1], h * w), np.int8)
    features = np.empty((mix.shape[-1], h * w), np.int32)
    for r0 in starts:
        n = h if halo == 0 else min(group, h - r0)
        rows = np.arange(r0 - halo, r0 + n + halo) % h
        app = image_appearance(image[rows], analysis.mean[i], analysis.basis[i], analysis.scale[i])
        feats = mixed_features(mix_parts(app, mix), int(analysis.shift[i]), limit)[halo:halo + n]
        appearance[:, r0 * w:(r0 + n) * w] = app[halo:halo + n].reshape(-1, app.shape[-1]).T
        features[:, r0 * w:(r0 + n) * w] = feats.reshape(-1, feats.shape[-1]).T
    return appearance, features


# ---------------------------------------------------------------- hashed randomness

def hash32(x):
    """A bijective 32-bit integer mix of ints or int64 arrays / tensors (values taken mod 2**32).

    Multipliers stay below 2**31 so no product overflows int64: numpy and torch compute the same bits.
    """
    x = x & MASK32
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & MASK32
    x = x ^ (x >> 15)
    x = (x * 0x2C1B3C6D) & MASK32
    return x ^ (x >> 16)


def stream_key(seed: int, level: int, salt: int) -> int:
    """One 32-bit key per (seed, level, purpose)."""
    k = hash32(hash32(seed & MASK32) ^ ((seed >> 32) & MASK32))
    return hash32(k + level * 0x632BE5AB + salt * 0x1B873593)


def grid_hash(key: int, rows, cols):
    """Hashes of (key, row, column) for int64 row (R, 1) and column (1, C) arrays or tensors."""
    return hash32(hash32(key + rows) + cols)


def block_grid(height: int, width: int, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Tiles of about block x block pixels on a height x width torus: per row the tile row and the
    offset in it, per column the same, and the numbers of tile rows and columns."""
    out = []
    for n in (height, width):
        count = max(1, int(round(n / block)))
        starts = (np.arange(count + 1) * n) // count
        index = np.searchsorted(starts, np.arange(n), side="right") - 1
        out.append((index.astype(np.int64), (np.arange(n) - starts[index]).astype(np.int64), count))
    (by, ly, nby), (bx, lx, nbx) = out
    return by, ly, bx, lx, nby, nbx


# ---------------------------------------------------------------- synthesis steps (numpy)

def _distances(table: np.ndarray, query: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """(M, n) table, (M, m) query, (c, m) candidate indices -> (c, m) int32 squared distances."""
    acc = np.zeros(cand.shape, np.int32)
    for j in range(table.shape[0]):
        t = table[j].take(cand)
        t -= query[j]
        t *= t
        acc += t
    return acc


def block_init(tables: LevelTables, seed: int, level: int, height: int, width: int, block: int,
               guide: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The coarsest level as tiles: each block x block tile copies an exemplar tile (int32 cy, cx).

    Without a guide a tile's origin is hashed; with one ((D, height * width) guide appearance), each
    tile takes of GUIDE_POOL hashed origins the one whose pixels' appearance is nearest the guide's.
    """
    h, w = tables.shape
    by, ly, bx, lx, nby, nbx = block_grid(height, width, block)
    tile = (by[:, None] * nbx + bx[None, :]).ravel()
    key = stream_key(seed, level, SALT_INIT if guide is None else SALT_POOL)
    if guide is None:
        origin = tables.valid_flat[grid_hash(key, np.arange(nby)[:, None], np.arange(nbx)[None, :]).ravel()
                                   % len(tables.valid_flat)]
    else:
        origin = _guided_origins(tables, key, guide, (by, ly, bx, lx, nby, nbx), width)
    o = origin[tile].reshape(height, width)
    return ((o // w + ly[:, None]) % h).astype(np.int32), ((o % w + lx[None, :]) % w).astype(np.int32)


def _guided_origins(tables: LevelTables, key: int, guide: np.ndarray, grid: tuple, width: int) -> np.ndarray:
    """Per tile of `grid` (block_grid), of GUIDE_POOL hashed exemplar origins the one whose pixels'
    appearance is nearest the guide's, summed over the tile. Rows of tiles are scored a group at
    a time (about CHUNK_PIXELS pixels), so a 2048 px level needs tens of MB instead of 5 GB; the
    costs are exact integer sums, so the choice is the same."""
    h, w = tables.shape
    by, ly, bx, lx, nby, nbx = grid
    pool = tables.valid_flat[grid_hash(key, np.arange(nby * nbx)[:, None], np.arange(GUIDE_POOL)[None, :])
                             % len(tables.valid_flat)]
    origin = np.empty(nby * nbx, pool.dtype)
    row_starts = np.searchsorted(by, np.arange(nby + 1))  # image rows of each tile row
    group = max(1, CHUNK_PIXELS // (GUIDE_POOL * width * max(1, row_starts[1] - row_starts[0])))
    for t0 in range(0, nby, group):
        t1 = min(nby, t0 + group)
        y0, y1 = row_starts[t0], row_starts[t1]
        tile = (by[y0:y1, None] * nbx + bx[None, :]).ravel()
        oy = (pool[tile] // w + np.repeat(ly[y0:y1], width)[:, None]) % h
        ox = (pool[tile] % w + np.tile(lx, y1 - y0)[:, None]) % w
        err = _distances(tables.appearance, guide[:, y0 * width:y1 * width], np.ascontiguousarray((oy * w + ox).T))
        order = np.argsort(tile, kind="stable")
        tiles = np.arange(t0 * nbx, t1 * nbx)
        cost = np.add.reduceat(err[:, order].astype(np.int64), np.searchsorted(tile[order], tiles), axis=1)
        origin[tiles] = pool[tiles, cost.argmin(axis=0)]
    return origin


def upsample(cy: np.ndarray, cx: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates one level finer: child (2i + a, 2j + b) = 2 * parent + (a, b), wrapped to `shape`."""
    ny = np.repeat(np.repeat(2 * cy, 2, axis=0), 2, axis=1)
    nx = np.repeat(np.repeat(2 * cx, 2, axis=0), 2, axis=1)
    ny[1::2] += 1
    nx[:, 1::2] += 1
    return ny % shape[0], nx % shape[1]


def jitter_field(cy: np.ndarray, cx: np.ndarray, shape: tuple[int, int], seed: int, level: int,
                 threshold: int, region: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Move a hashed share (threshold / 65536) of the pixels by a hashed offset in [-2, 2]^2 \\ 0.

    Pixels move together in region x region tiles (a hashed grid phase per level), so a moved tile
    stays coherent inside: jitter then cuts patches into pieces instead of into single pixels.
    """
    if threshold <= 0:
        return cy, cx
    height, width = cy.shape
    key = stream_key(seed, level, SALT_JITTER)
    by, _, bx, _, _, _ = block_grid(height, width, region)
    rows = by[(np.arange(height) + key % height) % height]
    cols = bx[(np.arange(width) + (key >> 16) % width) % width]
    h = grid_hash(key, rows[:, None], cols[None, :])
    moved = (h & 0xFFFF) < threshold
    offset = JITTER_OFFSETS[(h >> 16) % len(JITTER_OFFSETS)]
    return (np.where(moved, (cy + offset[..., 0]) % shape[0], cy).astype(np.int32),
            np.where(moved, (cx + offset[..., 1]) % shape[1], cx).astype(np.int32))


def _bias(dist: np.ndarray, units: int) -> None:
    """dist += floor(dist * units / UNIT), in place and without overflow (UNIT = 8)."""
    dist += (dist >> 3) * units + (((dist & 7) * units) >> 3)


def correct_subpass(tables: LevelTables, cy: np.ndarray, cx: np.ndarray, phase: tuple[int, int],
                    the_plan: Plan, guide: np.ndarray | None = None, cleanup: bool = False) -> None:
    """Correct the pixels of one parity class in place: each takes the candidate whose exemplar
    neighbourhood feature is nearest its synthesized one (plus, weighted, the guide's).

    Candidates in order: the 9 coherent ones c(p + d) - d (d in OFFSETS, the current pixel first),
    then the k similar pixels of each, whose distances are raised by the coherence bias. A cleanup
    pass offers only the 8 neighbours' coherent candidates, so stray pixels join a neighbour's patch.
    Reads wrap on the output and on the exemplar; ties go to the first candidate. Every choice
    reads the field as it was before the sub-pass, so rows are chosen a group at a time (about
    CHUNK_PIXELS pixels: bounded memory on a large level) and written together.
    """
    height, width = cy.shape
    rows, cols = np.arange(phase[0], height, 2), np.arange(phase[1], width, 2)
    group = max(1, CHUNK_PIXELS // max(1, len(cols)))
    best = np.concatenate([_best_candidates(tables, cy, cx, rows[r0:r0 + group], cols, the_plan, guide, cleanup)
                           for r0 in range(0, len(rows), group)])
    cy[phase[0]::2, phase[1]::2] = best // tables.shape[1]
    cx[phase[0]::2, phase[1]::2] = best % tables.shape[1]


def _best_candidates(tables: LevelTables, cy: np.ndarray, cx: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                     the_plan: Plan, guide: np.ndarray | None, cleanup: bool) -> np.ndarray:
    """correct_subpass's choice for the pixels rows x cols -> (len(rows), len(cols)) flat exemplar indices."""
    height, width = cy.shape
    h, w = tables.shape
    m, n_off, k = len(rows) * len(cols), len(OFFSETS), tables.similar.shape[0]
    total = np.zeros((m, tables.features.shape[0]), np.int32)
    cand = np.empty((n_off * (1 + k), m), np.int32)
    for i, (dy, dx) in enumerate(OFFSETS):
        iy, ix = ((rows + dy) % height)[:, None], ((cols + dx) % width)[None, :]
        ny, nx = cy[iy, ix].ravel(), cx[iy, ix].ravel()
        total += tables.parts[i].take(ny * w + nx, axis=0)
        cand[i] = ((ny - dy) % h) * w + (nx - dx) % w
    for j in range(k):
        cand[n_off * (1 + j):n_off * (2 + j)] = tables.similar[j].take(cand[:n_off])
    cand = cand[1:n_off] if cleanup else cand
    query = np.clip(total >> tables.shift, -tables.limit, tables.limit).T
    dist = _distances(tables.features, query, cand)
    if guide is not None and the_plan.guide:
        g = guide[:, (rows[:, None] * width + cols[None, :]).ravel()]
        dist = UNIT * dist.astype(np.int64) + the_plan.guide * _distances(tables.features, g, cand).astype(np.int64)
    if not cleanup:
        _bias(dist[n_off:], the_plan.coherence)
    if tables.invalid is not None:
        dist[tables.invalid[cand]] = np.iinfo(dist.dtype).max
    return np.take_along_axis(cand, dist.argmin(axis=0)[None], axis=0)[0].reshape(len(rows), len(cols))


def correct_level(tables: LevelTables, cy: np.ndarray, cx: np.ndarray, the_plan: Plan,
                  guide: np.ndarray | None = None) -> None:
    """`passes` passes of the four sub-passes, then one cleanup pass, in place."""
    for _ in range(the_plan.passes if tables.similar.shape[0] else 0):
        for phase in SUBPASSES:
            correct_subpass(tables, cy, cx, phase, the_plan, guide)
    for phase in SUBPASSES:
        correct_subpass(tables, cy, cx, phase, the_plan, guide, cleanup=True)


@dataclass(frozen=True)
class CoarseField:
    """A synthesized field at the finest level synthesis corrects: (h_l, w_l) exemplar (y, x) at
    pyramid level `level`, and the exemplar's level shapes below it. Every finer level only
    upsamples (child = 2 * parent + (a, b), wrapped), so any rows of the full-resolution field
    follow from it alone (expand_rows): a large output's field never needs to exist whole."""
    cy: np.ndarray
    cx: np.ndarray
    level: int
    shapes: tuple  # exemplar (h, w) at levels level - 1, ..., 0

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the full-resolution field."""
        return self.cy.shape[0] << self.level, self.cy.shape[1] << self.level


def synthesize_coarse(analysis: ExemplarAnalysis, height: int, width: int, seed: int,
                      guide: np.ndarray | None = None, **options) -> CoarseField:
    """synthesize() up to the finest corrected level (options: as synthesize's)."""
    p = plan(analysis, height, width, **options)
    guides = guide_features(analysis, guide, height, width, p) if guide is not None else None
    tables = level_tables(analysis, p.coarsest)
    cy, cx = block_init(tables, seed, p.coarsest, height >> p.coarsest, width >> p.coarsest, p.block,
                        guides.appearance if guides else None)
    for level in range(p.coarsest, p.finest - 1, -1):
        if level < p.coarsest:
            cy, cx = upsample(cy, cx, analysis.level_shape(level))
            tables = level_tables(analysis, level)
            cy, cx = jitter_field(cy, cx, tables.shape, seed, level, p.jitter, JITTER_TILE)
        correct_level(tables, cy, cx, p, guides.features[level] if guides else None)
    return CoarseField(cy, cx, p.finest, tuple(analysis.level_shape(lv) for lv in range(p.finest - 1, -1, -1)))


def _expand_axis(values: np.ndarray, positions: np.ndarray, sizes: list[int]) -> np.ndarray:
    """One coordinate through the upsampling levels: v <- (2 v + bit) % size per level, the bits
    of each full-resolution position from the highest down (what repeated upsample() computes)."""
    v = values.astype(np.int32)
    for j, size in zip(range(len(sizes) - 1, -1, -1), sizes):
        v *= 2
        v += (positions >> j) & 1
        v %= size
    return v


def expand_rows(field: CoarseField, rows: np.ndarray) -> np.ndarray:
    """Rows `rows` (full-resolution indices, any order, wrapped) of the full field -> (n, W, 2)
    int32, equal to those rows of synthesize()'s output."""
    k = field.level
    rows = np.mod(np.asarray(rows, np.int64), field.shape[0])
    cols = np.arange(field.shape[1], dtype=np.int64)
    cy = field.cy[rows >> k][:, cols >> k]
    cx = field.cx[rows >> k][:, cols >> k]
    out = np.empty(cy.shape + (2,), np.int32)
    out[..., 0] = _expand_axis(cy, rows[:, None], [s[0] for s in field.shapes])
    out[..., 1] = _expand_axis(cx, cols[None, :], [s[1] for s in field.shapes])
    return out


def synthesize(analysis: ExemplarAnalysis, height: int, width: int, seed: int, guide: np.ndarray | None = None,
               passes: int = PASSES, jitter: float = JITTER, coherence: float = COHERENCE, patch: float = PATCH,
               guide_weight: float = GUIDE_WEIGHT, max_correct_pixels: int = MAX_CORRECT_PIXELS) -> np.ndarray:
    """Per seed and size: (height, width, 2) int32 exemplar (y, x) of every output pixel.

    guide: optional (gh, gw, C) image in the exemplar's channels (the net's output) giving layout
    and variation. passes: correction passes (four sub-passes each) per corrected level. jitter:
    share of pixels moved at random per corrected level. patch: side of the tiles the coarsest
    level starts from, as a share of the exemplar's smaller side; with jitter it bounds how much
    is copied verbatim. coherence: how much worse than a coherent candidate a jump may match and
    still lose (0 = not at all). guide_weight: the guide's pull against the exemplar's own
    neighbourhoods. max_correct_pixels: levels larger than this are only upsampled (speed).
    Deterministic per seed; the output tiles exactly (every read wraps).
    """
    field = synthesize_coarse(analysis, height, width, seed, guide, passes=passes, jitter=jitter,
                              coherence=coherence, patch=patch, guide_weight=guide_weight,
                              max_correct_pixels=max_correct_pixels)
    return expand_rows(field, np.arange(height))
