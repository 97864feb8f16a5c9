"""Make a photo seamless: one photo (not periodic) -> a tileable texture of any size that keeps its look.

The photo is the exemplar of the generator's joined-patch synthesis (core.synthesis.quilt): patches of the
photo as big as its elements (stones, setts, planks), joined along the cheapest paths through their
overlaps -- its joints and mortar -- on a torus of the output size, then ``apply_field`` reads every
channel through the one coordinate field. Every output pixel is a photo pixel (cuts are blended over
a few pixels), so there is no ghosting and no smearing, aligned channels (a stack of maps) stay
aligned, and the output tiles exactly because the cuts close round the torus.

What is specific to photos:

* A photo shot at an angle is straightened first (core.photo.perspective): converging columns of bricks
  come out parallel, so the wrap does not show a V where leaning columns meet.
* ``equalise_lighting`` then divides out slow luminance trends (vignetting, light fall-off), which
  would otherwise show as a checkerboard of light once patches from bright and dark corners meet.
* Large photos are analysed at the analysis scale: the photo is shrunk by the smallest power of 2
  that brings its longer side to at most ANALYSIS_SIDE (1024) pixels, and the output's pixels are
  pixels of that scale. ``upscale`` 2 or 4 then reads the full-resolution photo through the refined
  field (real detail; see core.photo.upscale), or synthesises the finest octave where the photo has none.

Photos with few large structured elements (cobblestones, bricks, tiles: a photo showing a dozen
stones) have too little to re-arrange: synthesis pieces stones from two and makes joints stop or jog.
For them the ``wrap_cut`` method keeps the photo whole and cuts its wrap border through an overlap band
along the path of least difference (core.photo.wrap_cut, as in image quilting); it is read through the same
machinery (a coordinate field, blended cuts, upscaling). ``method="auto"`` picks it for photos with
a lattice, long straight joints or only a few elements (``choose_method``), and synthesis for the rest.

Pure numpy: never imports bpy, torch or PIL.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..synthesis import quilt
from ..synthesis.lattice import axis_periods
from ..synthesis.read_field import SOFTEN, apply_field
from .perspective import straighten as straighten_perspective
from .upscale import box_shrink, check_factor, upscale_through_field
from .wrap_cut import WrapCut, find_wrap_cut
from .wrap_cut import field as wrap_cut_coords

MIN_SIDE = 32             # smaller photos are refused: too little to copy patches from
MAX_CHANNELS = 5          # RGB, or an aligned stack of maps such as albedo + height + roughness
MIN_SIZE, MAX_SIZE = 32, 8192   # output side, after upscaling
ANALYSIS_SIDE = 1024      # photos are analysed with their longer side at most this (a power-of-2 shrink)
LIGHTING_SIGMA = 0.25     # equalise_lighting: trends wider than this share of the smaller side go
GAIN_LIMITS = (0.25, 4.0)  # ... and no pixel is brightened or darkened more than this
TREND_SIDE = 512          # ... found on the luminance shrunk to about this side (see equalise_lighting)
TREND_BAND = 256          # rows the gain is applied to at a time
METHODS = ("auto", "synthesis", "wrap_cut")
# choose_method, calibrated on benchmarks/seamless.py's 512 px photos and 256 px crops of them, by eye:
# long straight joints (line_score: gravel 2.3, grass 1.7, Rock058 2.1, Bark014 3.8; cobblestone_pavement
# 14.8, brick 155, tiles and panels 8-1300) or few elements in the photo (element_scale: at most 0.25
# on the 512 px photos, Rock058 0.16; 0.32-0.44 on 256 px crops of cobblestones, rock and onyx, where
# synthesis broke the stones and veins and wrap cut kept them) call for the wrap cut.
LINE_BAND = (16, 48)          # line_score: spatial frequencies, in cycles per image side
LINE_SCORE_WRAP_CUT = 7.0
ELEMENT_SCALE_WRAP_CUT = 0.3
FIT_TAPER = 0.25              # periodic_fit: the top quarter of the kept frequencies rolls off (no ringing)
WRAP_BORDER_REACH = 4         # wrap cut: the texture is rolled by at most this to put its border on a typical line

Progress = Callable[[float], None]


def check_photo(image) -> np.ndarray:
    """A photo as float32 (H, W, C) in [0, 1], C = 1..MAX_CHANNELS (an (H, W) array is grey), or
    a ValueError saying what is wrong: not an image array, too many channels, too small, NaN."""
    a = np.asarray(image, np.float32)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or not 1 <= a.shape[2] <= MAX_CHANNELS:
        raise ValueError(f"expected an (H, W, C) image with 1 to {MAX_CHANNELS} channels, got shape {a.shape}")
    if min(a.shape[:2]) < MIN_SIDE:
        raise ValueError(f"the image is {a.shape[1]}x{a.shape[0]} px: too small (at least {MIN_SIDE} px a side)")
    if not np.isfinite(a).all():
        raise ValueError("the image holds NaN or infinite values")
    if a.min() < 0.0 or a.max() > 1.0:  # a copy only when needed: an 8192 px photo is 0.8 GB
        a = np.clip(a, 0.0, 1.0)
    return a


# ---------------------------------------------------------------- lighting

def colour_channels(channels: int) -> int:
    """How many leading channels carry colour: 3 of an RGB image or stack, else the first (grey)."""
    return 3 if channels >= 3 else 1


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (H, W) Rec. 709 luminance of the colour channels (the grey channel itself)."""
    if colour_channels(image.shape[2]) == 3:
        return image[..., :3] @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    return image[..., 0]


def wide_blur(plane: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of an (H, W) plane with mirrored borders (by FFT of the mirrored 2H x 2W plane,
    which is periodic, so no border effect), for sigmas of many pixels."""
    h, w = plane.shape
    mirrored = np.pad(plane.astype(np.float64), ((0, h), (0, w)), mode="symmetric")
    fy = np.fft.fftfreq(2 * h)[:, None]
    fx = np.fft.rfftfreq(2 * w)[None, :]
    gauss = np.exp(-2.0 * (np.pi * sigma) ** 2 * (fy ** 2 + fx ** 2))
    return np.fft.irfft2(np.fft.rfft2(mirrored) * gauss, s=mirrored.shape)[:h, :w]


def quadratic_trend(plane: np.ndarray) -> np.ndarray:
    """The least-squares quadratic surface through an (H, W) plane: gradients and vignetting."""
    h, w = plane.shape
    y, x = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    terms = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1).reshape(-1, 6)
    coef, *_ = np.linalg.lstsq(terms, plane.reshape(-1), rcond=None)
    return (terms @ coef).reshape(h, w)


def equalise_lighting(image, sigma: float = LIGHTING_SIGMA, in_place: bool = False) -> np.ndarray:
    """Divide out slow luminance trends (vignetting, light fall-off), keeping the mean brightness.

    The colour channels are multiplied by mean(L) / T, L the luminance and T its trend: the
    quadratic surface through L plus a Gaussian blur (`sigma` times the smaller side, mirrored
    borders) of what is left (a blur alone bends a ramp flat near the borders, where the mirror
    sees none). The gain stays within GAIN_LIMITS. Channels after the colour ones (aligned maps
    such as height or roughness) are left untouched. in_place: change `image` itself (when it is
    the caller's own float32 copy) instead of a new array.

    Photos over TREND_SIDE a side find the trend on their luminance shrunk (by a power of 2) to
    about that side and spread the gain back bilinearly, in bands: the trend is slow by definition,
    and finding it at full size took 4.5 GB and 20 s for a 4096 px photo.
    """
    a = check_photo(image)
    out = a if in_place or not np.may_share_memory(a, image) else a.copy()
    lum = luminance(a)
    factor = trend_factor(lum.shape)
    small = (box_shrink(lum[..., None], factor)[..., 0] if factor > 1 else lum).astype(np.float64)
    surface = quadratic_trend(small)
    trend = surface + wide_blur(small - surface, sigma * min(small.shape))
    gain = np.clip(small.mean() / np.maximum(trend, 1e-4), *GAIN_LIMITS).astype(np.float32)
    del lum, small, surface, trend
    c = colour_channels(a.shape[2])
    wide = widen_gain(gain, factor, a.shape[1])
    for start in range(0, a.shape[0], TREND_BAND):
        band = out[start:start + TREND_BAND, :, :c]
        band *= spread_gain(wide, factor, start, band.shape[0])[..., None]
        np.clip(band, 0.0, 1.0, out=band)
    return out


def trend_factor(shape: tuple[int, int]) -> int:
    """The power of 2 the luminance is shrunk by to find the lighting trend: 1 up to TREND_SIDE a side."""
    factor = 1
    while min(shape) >= 2 * factor * TREND_SIDE:
        factor *= 2
    return factor


def _taps(n_out: int, n_in: int, factor: int, first: int = 0):
    """Bilinear taps of n_out pixels from first on, read from n_in cells `factor` times larger (pixel
    centres aligned; past the last cell the edge value holds): (low cell, high cell, weight of high)."""
    pos = np.clip((np.arange(first, first + n_out) + 0.5) / factor - 0.5, 0, n_in - 1)
    lo = np.minimum(pos.astype(np.int64), n_in - 2) if n_in > 1 else np.zeros(n_out, np.int64)
    return lo, np.minimum(lo + 1, n_in - 1), (pos - lo).astype(np.float32)


def widen_gain(gain: np.ndarray, factor: int, width: int) -> np.ndarray:
    """An (h, w) gain found on a plane shrunk `factor` times, bilinearly enlarged along x alone to
    (h, width): done once, before spread_gain enlarges it band by band along y."""
    if factor == 1:
        return gain
    x0, x1, fx = _taps(width, gain.shape[1], factor)
    return gain[:, x0] * (1 - fx) + gain[:, x1] * fx


def spread_gain(wide: np.ndarray, factor: int, start: int, rows: int) -> np.ndarray:
    """Rows start..start+rows of the full-size gain, from widen_gain's (h, width) rows."""
    if factor == 1:
        return wide[start:start + rows]
    y0, y1, fy = _taps(rows, wide.shape[0], factor, start)
    return wide[y0] * (1 - fy[:, None]) + wide[y1] * fy[:, None]


# ---------------------------------------------------------------- the field

def analysis_factor(shape: tuple[int, ...], side: int = ANALYSIS_SIDE) -> int:
    """The power of 2 that shrinks a photo of this (H, W, ...) shape to at most `side` a side."""
    factor = 1
    while max(shape[:2]) > factor * side:
        factor *= 2
    return factor


def typical_shifts(lum: np.ndarray, reach: int) -> tuple[int, int]:
    """The roll (at most `reach` pixels per axis) that brings the line pair whose jump is nearest the
    mean jump between lines of a periodic (H, W) plane to its wrap border."""
    shifts = []
    for axis in (0, 1):
        jumps = np.abs(np.roll(lum, -1, axis) - lum).mean(axis=1 - axis)  # jump from line i to i + 1
        n = len(jumps)
        candidates = np.arange(n - 1 - reach, n + reach) % n  # lines near the current border (n - 1)
        best = int(candidates[np.argmin(np.abs(jumps[candidates] - jumps.mean()))])
        shifts.append(n - 1 - best)
    return shifts[0], shifts[1]


def typical_border(image: np.ndarray, reach: int) -> np.ndarray:
    """An exactly periodic image rolled by at most `reach` pixels per axis so that its wrap border's
    jump is nearest the mean jump between its lines. After upscaling, the field's own wrap holds at
    the coarse scale only, and the finest band's line-to-line contrast varies (one line of 256 was
    the strongest of all in a test): the border should be a typical line, not the strongest."""
    a = np.asarray(image)
    return np.roll(a, typical_shifts(luminance(a), reach), axis=(0, 1))


@dataclass(frozen=True)
class PreparedPhoto:
    """A photo analysed once, for any number of seeds and sizes: photo (H, W, C) at full resolution
    (lighting equalised when asked); exemplar: the photo shrunk `factor` times (the analysis scale);
    analysis: core.synthesis.quilt's analysis of the exemplar (None when only the wrap cut is wanted)."""
    photo: np.ndarray
    exemplar: np.ndarray
    factor: int
    analysis: quilt.QuiltAnalysis | None


def prepare_photo(image, *, equalise: bool = True, straighten: bool = True, analysis_side: int = ANALYSIS_SIDE,
                  analysed: bool = True) -> PreparedPhoto:
    """Check, straighten, equalise and analyse a photo (core.synthesis.quilt's analysis, skipped when not
    `analysed`: the wrap cut does not need it). straighten: make lines that
    converge in perspective parallel (core.photo.perspective; a photo without clear perspective is kept
    as it is, and so is a stack of maps)."""
    photo = check_photo(image)
    if straighten and photo.shape[2] <= 4:
        photo = straighten_perspective(photo, luminance(photo))[0]
    if equalise:  # in place when straightening made a new array: one full-size copy fewer
        photo = equalise_lighting(photo, in_place=not np.may_share_memory(photo, image))
    factor = analysis_factor(photo.shape, analysis_side)
    exemplar = box_shrink(photo, factor)
    if min(exemplar.shape[:2]) < MIN_SIDE:
        raise ValueError(f"the image is {photo.shape[1]}x{photo.shape[0]} px: too narrow to make seamless "
                         f"(shrunk to {analysis_side} px long it is under {MIN_SIDE} px wide)")
    return PreparedPhoto(photo, exemplar, factor, quilt.analyse(exemplar) if analysed else None)


# ---------------------------------------------------------------- choosing the method

def line_score(image: np.ndarray) -> float:
    """How strongly an (H, W, C) image is drawn with long straight lines (mortar joints, tile grout):
    the peak of the angular profile (2-degree bins) of its luminance's power spectrum over LINE_BAND
    (Hann-windowed, so the photo's own border draws no cross) over the profile's median 5 to 20
    degrees either side. A straight line across the image puts its energy in one narrow direction;
    grains, blades, cracks and bark fibres spread theirs over many. The band is in cycles per image,
    so the score does not change when the photo is shrunk (gravel 2.3, bark 3.8, cobblestones 15)."""
    lum = luminance(np.asarray(image, np.float32)).astype(np.float64)
    h, w = lum.shape
    window = np.hanning(h)[:, None] * np.hanning(w)[None, :]
    power = np.abs(np.fft.fft2((lum - lum.mean()) * window)) ** 2
    side = min(h, w)
    fy, fx = np.fft.fftfreq(h)[:, None] * side, np.fft.fftfreq(w)[None, :] * side  # cycles per side
    bins = 90
    angle = np.mod(np.arctan2(fy, fx) + np.pi / bins / 2, np.pi)
    ring = (np.hypot(fy, fx) >= LINE_BAND[0]) & (np.hypot(fy, fx) <= LINE_BAND[1])
    which = np.minimum((angle[ring] / np.pi * bins).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    if not counts.all():
        return 0.0  # too small an image to tell
    profile = np.bincount(which, power[ring], minlength=bins) / counts
    offsets = np.r_[-10:-2, 3:11]  # 2-degree bins: 5 to 20 degrees either side
    around = np.median(profile[(np.arange(bins)[:, None] + offsets[None, :]) % bins], axis=1)
    return float((profile / np.maximum(around, 1e-20)).max())


def element_scale(image: np.ndarray, side: int = 256) -> float:
    """How large an (H, W, C) image's elements are next to the image: the radius where the radially
    averaged autocorrelation of its luminance (non-periodic: over the overlapping pixels only) first
    drops below zero, over the smaller side (gravel 0.02, cobblestones 0.18 at 512 px; 0.3 and more:
    fewer than about two elements a side). Measured on the image shrunk to at most `side` px long."""
    lum = luminance(box_shrink(np.asarray(image, np.float32), analysis_factor(np.shape(image), side)))
    lum = lum.astype(np.float64) - lum.mean()
    h, w = lum.shape

    def autocorrelation(a):
        return np.fft.irfft2(np.abs(np.fft.rfft2(a, s=(2 * h, 2 * w))) ** 2, s=(2 * h, 2 * w))

    ac = autocorrelation(lum) / np.maximum(autocorrelation(np.ones((h, w))), 1.0)
    if ac[0, 0] <= 0:
        return 0.0  # a flat image
    dy = np.minimum(np.arange(2 * h), 2 * h - np.arange(2 * h))[:, None]
    dx = np.minimum(np.arange(2 * w), 2 * w - np.arange(2 * w))[None, :]
    radius = np.rint(np.hypot(dy, dx)).astype(np.int64)
    inside = radius < min(h, w) // 2
    profile = np.bincount(radius[inside], ac[inside]) / np.maximum(np.bincount(radius[inside]), 1)
    below = np.flatnonzero(profile < 0)
    return float((below[0] if below.size else min(h, w) // 2) / min(h, w))


def choose_method(exemplar: np.ndarray) -> str:
    """'wrap_cut' for a photo of few large structured elements, else 'synthesis': wrap cut when the
    exemplar has a lattice (core.synthesis.lattice), long straight joints (line_score >= LINE_SCORE_WRAP_CUT)
    or elements so large that it holds only a few (element_scale >= ELEMENT_SCALE_WRAP_CUT): the
    photos whose structure synthesis breaks (benchmarks/seamless.py)."""
    if any(axis_periods(exemplar)) or line_score(exemplar) >= LINE_SCORE_WRAP_CUT:
        return "wrap_cut"
    return "wrap_cut" if element_scale(exemplar) >= ELEMENT_SCALE_WRAP_CUT else "synthesis"


def check_method(method: str) -> str:
    """One of METHODS, or ValueError."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    return method


def seamless_field(prepared: PreparedPhoto, size: int, seed: int = 0) -> np.ndarray:
    """(size, size, 2) int32 exemplar (y, x) of every pixel of a seamless texture at the analysis
    scale: patches of the photo as big as its elements, joined along its joints (core.synthesis.quilt; rows
    and tile grids kept on their repeat)."""
    analysis = prepared.analysis if prepared.analysis is not None else quilt.analyse(prepared.exemplar)
    coords = quilt.synthesize(analysis, size, size, seed)
    # The torus may be rolled freely: its wrap border goes where the result's shading changes least
    # from line to line, so neither the image nor maps derived from it (a smooth height) meet there
    # along their strongest line.
    lum = luminance(prepared.exemplar)[coords[..., 0], coords[..., 1]].astype(np.float64)
    smooth = np.real(np.fft.ifft2(np.fft.fft2(lum) * _binomial_spectrum(lum.shape)))
    shifts = []
    for axis in (0, 1):
        jumps = np.abs(np.roll(smooth, -1, axis) - smooth).mean(axis=1 - axis)   # line i to i + 1
        shifts.append(len(jumps) - 1 - int(np.argmin(jumps)))
    return np.roll(coords, tuple(shifts), axis=(0, 1))


def _binomial_spectrum(shape: tuple[int, int], passes: int = 4) -> np.ndarray:
    """Transfer function of `passes` periodic [1 2 1] / 4 blurs per axis (a smooth low-pass)."""
    fy, fx = np.fft.fftfreq(shape[0])[:, None], np.fft.fftfreq(shape[1])[None, :]
    return (np.cos(np.pi * fy) ** 2 * np.cos(np.pi * fx) ** 2) ** passes


def wrap_cut(prepared: PreparedPhoto) -> WrapCut:
    """The exemplar's wrap cut (core.photo.wrap_cut), with periods of whole lattice repeats where it has one."""
    return find_wrap_cut(prepared.exemplar, axis_periods(prepared.exemplar), half=SOFTEN + 1)


def tile_counts(period: tuple[int, int], size: int) -> tuple[int, int]:
    """(rows, columns) of whole periods a square output of `size` shows: the block whose fit to the
    square costs least, counting its stretch of one axis against the other twice (log of the block's
    aspect) and its change of scale once (log of size over the block's mean side): e.g. 1 x 1 for a
    512 px photo and sizes up to about 700, 2 x 1 for a photo twice as wide as high."""
    reach = [max(1, int(np.ceil(2 * max(size, *period) / t))) for t in period]

    def misfit(ny: int, nx: int) -> float:
        rows, cols = ny * period[0], nx * period[1]
        return 2.0 * abs(np.log(rows / cols)) + abs(np.log(size / np.sqrt(rows * cols)))

    return min(((ny, nx) for ny in range(1, reach[0] + 1) for nx in range(1, reach[1] + 1)), key=lambda c: misfit(*c))


def wrap_cut_field(prepared: PreparedPhoto, size: int, seed: int = 0, cut: WrapCut | None = None) -> np.ndarray:
    """(ny Ty, nx Tx, 2) int32 exemplar (y, x) of a wrap-cut texture: the period (Ty, Tx) of the cut
    repeated tile_counts times (render then resizes it to `size`). Seed 0 keeps the photo's framing
    (rolled by at most WRAP_BORDER_REACH pixels, so the wrap border is a typical line); another seed
    rolls the texture (it stays exactly periodic) by a seed-chosen offset."""
    cut = cut or wrap_cut(prepared)
    coords = wrap_cut_coords(cut)
    if seed:
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x3A7C])
        coords = np.roll(coords, tuple(int(rng.integers(t)) for t in cut.period), axis=(0, 1))
    # the wrap border on a typical line, not on a grout line of a tile grid (any roll keeps it periodic)
    h, w = prepared.exemplar.shape[:2]
    lum = luminance(prepared.exemplar).ravel().take(coords[..., 0].astype(np.int64) * w + coords[..., 1])
    coords = np.roll(coords, typical_shifts(lum, WRAP_BORDER_REACH), axis=(0, 1))
    return np.tile(coords, tile_counts(cut.period, size) + (1,))


def _fourier_fit_axis(image: np.ndarray, size: int, axis: int) -> np.ndarray:
    n = image.shape[axis]
    if n == size:
        return image
    spectrum = np.fft.fft(image, axis=axis)
    freq = np.fft.fftfreq(n) * n                       # whole cycles per period
    edge = min(n, size) / 2.0                          # the smaller grid's Nyquist
    start = (1.0 - FIT_TAPER) * edge
    ramp = np.clip((np.abs(freq) - start) / max(edge - start, 1e-9), 0.0, 1.0)
    keep = np.flatnonzero(np.abs(freq) < edge)
    weight = (0.5 + 0.5 * np.cos(np.pi * ramp[keep])).reshape([-1 if d == axis else 1 for d in range(image.ndim)])
    target = [slice(None)] * image.ndim
    target[axis] = np.rint(freq[keep]).astype(np.int64) % size
    source = [slice(None)] * image.ndim
    source[axis] = keep
    out = np.zeros(image.shape[:axis] + (size,) + image.shape[axis + 1:], np.complex128)
    out[tuple(target)] = spectrum[tuple(source)] * weight
    return (np.fft.ifft(out, axis=axis).real * (size / n)).astype(np.float32)


def periodic_fit(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """A periodic (h, w, C) image resized to (height, width) by Fourier resampling: its spectrum kept up
    to the smaller grid's Nyquist frequency (zero-padded to enlarge, cut to shrink: no aliasing), the
    top FIT_TAPER of that band rolled off by a raised cosine (no ringing at sharp joints). Exactly
    periodic, and the same at every position: bicubic's blur changes with the phase of the sampling
    grid, and fitting 63 columns to 64 left the wrap border sharper than any interior line."""
    out = np.asarray(image, np.float32)
    return _fourier_fit_axis(_fourier_fit_axis(out, height, 0), width, 1)


def render(prepared: PreparedPhoto, coords: np.ndarray, size: int, upscale: int = 1) -> np.ndarray:
    """Read the photo through a seamless field: (size * upscale, size * upscale, C) float32 in [0, 1].
    A field of another shape (synthesis: a pixel or two off; wrap cut: whole periods of the photo) is
    resized to it on the torus (periodic_fit), its wrap border then moved to a typical line."""
    if upscale == 1:
        out = np.clip(apply_field(prepared.exemplar, coords, soften=SOFTEN, periodic=False), 0.0, 1.0)
    else:
        out = upscale_through_field(prepared.photo, coords, prepared.factor, upscale)
        out = typical_border(out, 2 * upscale)
    target = size * upscale
    if out.shape[:2] != (target, target):
        out = typical_border(np.clip(periodic_fit(out, target, target), 0.0, 1.0), WRAP_BORDER_REACH * upscale)
    return out.astype(np.float32)


def check_size(size: int, upscale: int = 1) -> None:
    """ValueError unless MIN_SIZE <= size and size * upscale <= MAX_SIZE."""
    check_factor(upscale)
    if not MIN_SIZE <= size or size * upscale > MAX_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} and size x upscale at most {MAX_SIZE} px, "
                         f"not {size} x {upscale}")


def make_seamless(image, size: int, *, seed: int = 0, equalise: bool = True, straighten: bool = True, upscale: int = 1,
                  analysis_side: int = ANALYSIS_SIDE, method: str = "auto",
                  progress: Progress | None = None) -> np.ndarray:
    """A photo -> (size * upscale, size * upscale, C) float32 in [0, 1] that tiles exactly.

    image: float32 (H, W, C) in [0, 1], C = 1..5 (grey, RGB, or an aligned stack of maps, which stay
    aligned), at least MIN_SIDE px a side. equalise: divide out slow lighting trends first.
    straighten: first make lines that converge in perspective parallel (core.photo.perspective). upscale:
    1, 2 or 4 (core.photo.upscale: the full-resolution photo's pixels where the photo has them).
    progress(fraction) as it goes. Raises ValueError (one sentence) for an unusable image, size or method.

    method: "synthesis" re-arranges patches of the photo on a torus of the output's size; "wrap_cut"
    keeps the photo whole and cuts its wrap border (core.photo.wrap_cut); "auto" (default) picks per photo
    (choose_method: wrap cut for lattices, long straight joints and photos of only a few elements).
    They differ in what `size` means:

    * synthesis: size is the output side at the analysis scale (the photo's own scale for photos up to
      ANALYSIS_SIDE px long; 1/2, 1/4, ... of it for larger ones, see the module doc). The content keeps
      the photo's scale and fills whatever area is asked (a side that is not a multiple of 2 or 4, the
      first analysed level, is synthesised at the nearest one and resized: under 1 % for 256 and more).
      seed: another seed, another layout.
    * wrap cut: the texture is one photo, its period (Ty, Tx) the analysis-scale photo's sides less the
      overlap bands (an eighth to a quarter of each). The output shows a whole number of periods per
      axis (tile_counts: the block nearest square, then nearest size) resized to size x size: the
      content is scaled by size / (n T), e.g. 512 / 432 = 1.19 for a 512 px photo, and kept at the
      photo's scale only when size is a multiple of the period. seed: 0 keeps the photo's framing,
      another rolls it.
    """
    check_size(size, upscale)
    check_method(method)
    report = progress or (lambda f: None)
    prepared = prepare_photo(image, equalise=equalise, straighten=straighten, analysis_side=analysis_side,
                             analysed=False)
    if method == "auto":
        method = choose_method(prepared.exemplar)
    if method == "synthesis":
        prepared = PreparedPhoto(prepared.photo, prepared.exemplar, prepared.factor, quilt.analyse(prepared.exemplar))
        report(0.6)
        coords = seamless_field(prepared, size, seed)
    else:
        coords = wrap_cut_field(prepared, size, seed)
    report(0.8)
    out = render(prepared, coords, size, upscale)
    report(1.0)
    return out
