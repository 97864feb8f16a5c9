"""Regular textures (tiles, bricks laid in rows): find the exemplar's repeat along each axis, and keep
every patch of a coordinate field on that lattice so grout lines and rows continue across patches.

Coordinate synthesis copies patches at arbitrary offsets; for a stochastic texture that is what it
should do, but a tile grid copied at offsets that are not whole tiles apart comes out broken (lines
that stop, tiles of every width). Snapping every pixel's offset (exemplar position minus output
position) to one residue modulo the period keeps each patch's own content and only slides it by less
than half a period, onto the lattice. Pure numpy.
"""
from __future__ import annotations

import numpy as np

MIN_PERIOD = 8          # shorter repeats are texture grain, not a layout
PEAK_THRESHOLD = 0.5    # normalised autocorrelation a repeat must reach to count as a lattice
FUNDAMENTAL_SHARE = 0.9  # the shortest repeat within this share of the strongest one is the lattice
MIN_REPEATS = 4         # snap outputs this many repeats wide (the stretch is then at most 1/8 of a tile) ...
CLOSE_REPEATS = (2, 0.03)   # ... or at least 2 repeats when they need at most a 3 % stretch (512 px of 171 px tiles)
BORDER = 4              # snapped positions stay this far inside a non-periodic exemplar
COURSE_PEAK = 0.45      # courses: the relief's mean profile across an axis must repeat this strongly...
COURSE_SHARE = 0.3      # ... and carry this share of the relief's spread (the layout runs along that axis)


def axis_periods(exemplar: np.ndarray) -> tuple[int, int]:
    """(rows, columns) repeat of an (h, w, C) exemplar, 0 where it has none: the luminance's repeat,
    else the height's (channel 3, when there is one: a grey facade shows its tile grid in relief only).

    The repeat along an axis is the shortest lag whose local maximum of the autocorrelation along
    that axis (from MIN_PERIOD to a quarter of the side: at least four repeats) reaches
    PEAK_THRESHOLD and FUNDAMENTAL_SHARE of the strongest one."""
    ex = np.asarray(exemplar, np.float64)
    luminance = _axis_repeats(ex[..., :3].mean(axis=-1))
    if ex.shape[-1] < 4:
        return luminance
    relief = _axis_repeats(ex[..., 3])
    return tuple(a or b for a, b in zip(luminance, relief))


def _axis_repeats(image: np.ndarray) -> tuple[int, int]:
    image = image - image.mean()
    ac = np.fft.ifft2(np.abs(np.fft.fft2(image)) ** 2).real
    if ac[0, 0] <= 0:
        return 0, 0
    ac /= ac[0, 0]
    return _period(ac[:, 0]), _period(ac[0, :])


def _period(line: np.ndarray) -> int:
    lags = np.arange(MIN_PERIOD, len(line) // 4)
    if lags.size == 0:
        return 0
    peaks = lags[(line[lags] > line[lags - 1]) & (line[lags] >= line[lags + 1]) & (line[lags] >= PEAK_THRESHOLD)]
    if not peaks.size:
        return 0
    strong = peaks[line[peaks] >= FUNDAMENTAL_SHARE * line[peaks].max()]
    return int(strong.min())  # the fundamental, not one of its multiples


def keeps_repeat(size: int, period: int) -> bool:
    """Does an output `size` long keep a repeat of `period` (stretched to a whole number of repeats)?
    At MIN_REPEATS repeats or more always; from CLOSE_REPEATS[0] when the stretch is small. Fewer, or a
    larger stretch, would show as tiles of the wrong size."""
    if period <= 0:
        return False
    if size >= MIN_REPEATS * period:
        return True
    least, stretch = CLOSE_REPEATS
    whole = round(size / period) * period
    return size >= least * period and abs(size / whole - 1.0) <= stretch


def lattice_positions(size: int, period: int) -> np.ndarray:
    """Output positions 0..size-1 stretched so that `size` holds a whole number of repeats: the
    output shows n = round(size / period) tiles, each size / n pixels (a few per cent off the
    exemplar's), so the tile grid continues across the wrap border and the texture tiles exactly."""
    n = max(1, round(size / period))
    return (np.arange(size, dtype=np.int64) * period * n) // size


def _position(axis: int, rows: np.ndarray, width: int) -> np.ndarray:
    """Output positions along `axis`, shaped to broadcast over an (n, W) band."""
    return rows.reshape(-1, 1) if axis == 0 else np.arange(width, dtype=np.int64).reshape(1, -1)


def residue_counts(coords: np.ndarray, periods: tuple[int, int], rows: np.ndarray | None = None) -> tuple:
    """Per axis with a period P: how many pixels of the field (or of the band at output rows
    `rows`) have each offset c - position modulo P (None for period 0). Counts of bands add up."""
    rows = np.arange(coords.shape[0], dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
    return tuple(np.bincount(np.mod(coords[..., axis] - _position(axis, rows, coords.shape[1]), period).ravel(),
                             minlength=period) if period else None for axis, period in enumerate(periods))


def snap_to_lattice(coords: np.ndarray, periods: tuple[int, int], exemplar_shape: tuple[int, int],
                    periodic: bool, rows: np.ndarray | None = None, height: int | None = None,
                    counts: tuple | None = None) -> np.ndarray:
    """(H, W, 2) exemplar coordinates -> the same field with every patch on one tile lattice.

    Per axis with a period P: each pixel's offset o = c - position is moved to the nearest value
    congruent to the field's most common residue modulo P, and added to the stretched position of
    lattice_positions (so a whole number of tiles spans the output); the result is brought back
    inside the exemplar by whole multiples of P, which keeps the residue. Axes with period 0, or an
    output that does not keep the repeat (keeps_repeat: the stretch would show), are left alone.
    A band of a taller field: `rows` its output rows, `height` the field's, `counts` the whole
    field's residue_counts (bands then snap exactly as the whole field would).
    """
    out = np.array(coords, np.int64, copy=True)
    rows = np.arange(out.shape[0], dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
    full = (out.shape[0] if height is None else int(height), out.shape[1])
    counts = residue_counts(out, periods, rows) if counts is None else counts
    for axis, period in enumerate(periods):
        size = int(exemplar_shape[axis])
        lo, hi = (0, size) if periodic else (BORDER, size - BORDER)
        span = (hi - lo) // period * period if period else 0
        if span < period or not keeps_repeat(full[axis], period):
            continue
        position = _position(axis, rows, full[1])
        offset = out[..., axis] - position
        residue = int(np.asarray(counts[axis]).argmax())
        snapped = offset - (np.mod(offset - residue + period // 2, period) - period // 2)
        stretched = lattice_positions(full[axis], period)
        target = (stretched[rows].reshape(-1, 1) if axis == 0 else stretched.reshape(1, -1)) + snapped
        out[..., axis] = lo + np.mod(target - lo, span)
    return out.astype(np.int32)


def relief_plane(exemplar: np.ndarray) -> np.ndarray:
    """The relief of an (h, w[, C]) exemplar: its height (channel 3 of a GENERATED_CHANNELS stack)
    when it has one that varies, else its luminance (a photo: its shading stands for its relief)."""
    ex = exemplar[..., None] if exemplar.ndim == 2 else exemplar
    if ex.shape[-1] > 3 and np.ptp(ex[..., 3]) > 1e-3:
        return ex[..., 3]
    return ex[..., :min(3, ex.shape[-1])].mean(-1)


def course_periods(exemplar: np.ndarray) -> tuple[int, int]:
    """(rows, columns) repeat of courses: layouts regular along one axis only (brick and sett
    courses, planks, bark furrows), 0 where there is none. The relief averaged along an axis gives a
    profile across it whose dips are the joints between courses; its autocorrelation's strongest
    peak (MIN_PERIOD to a quarter of the side; its fundamental) is the course height when it reaches COURSE_PEAK and
    the profile carries COURSE_SHARE of the relief's spread. Setts of every width in straight
    courses repeat in rows only: axis_periods, which needs a repeat in two dimensions, misses them."""
    relief = relief_plane(np.asarray(exemplar, np.float64))
    spread = float(relief.std())
    out = []
    for axis in (0, 1):
        profile = relief.mean(axis=1 - axis)
        profile = profile - profile.mean()
        n = len(profile)
        if spread <= 0 or profile.std() < COURSE_SHARE * spread or n < 4 * MIN_PERIOD:
            out.append(0)
            continue
        ac = np.correlate(profile, profile, "full")[n - 1:] / (n - np.arange(n))
        ac /= ac[0]
        lags = np.arange(MIN_PERIOD, n // 4)
        peaks = lags[(ac[lags] > ac[lags - 1]) & (ac[lags] >= ac[lags + 1]) & (ac[lags] >= COURSE_PEAK)]
        strong = peaks[ac[peaks] >= FUNDAMENTAL_SHARE * ac[peaks].max()] if peaks.size else peaks
        out.append(int(strong.min()) if strong.size else 0)  # the fundamental, not one of its multiples
    return out[0], out[1]


def layout_periods(exemplar: np.ndarray) -> tuple[int, int]:
    """The repeat per axis that synthesis keeps: a tile grid's (axis_periods), else courses'."""
    grid = axis_periods(exemplar)
    courses = course_periods(exemplar)
    return tuple(g or c for g, c in zip(grid, courses))
