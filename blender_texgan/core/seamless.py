"""Make a photo seamless: one photo (not periodic) -> a tileable texture of any size that keeps its look.

The photo is the exemplar of the generator's coordinate synthesis (core.refine): ``analyse`` it as a
non-periodic exemplar (mirrored pyramid, border pixels never chosen), ``synthesize`` a coordinate
field on a torus of the output size from a random start, and ``apply_field`` every channel through
it. Every output pixel is a photo pixel (patch borders are blended over a few pixels, keeping
contrast), so there is no ghosting and no smearing, aligned channels (a stack of maps) stay aligned,
and the output tiles exactly because every read of the synthesis wraps around the output.

What is specific to photos:

* ``equalise_lighting`` first divides out slow luminance trends (vignetting, light fall-off), which
  would otherwise show as a checkerboard of light once patches from bright and dark corners meet.
* Synthesis keeps large whole pieces (no jitter, start tiles of half the photo's side: PHOTO_JITTER,
  PHOTO_PATCH): a photo has one look to keep, not variations to invent (benchmarks/seamless.py).
* The wrap border is put where the field is continuous (``quiet_roll``): the border of the output is
  then a line of the photo itself rather than a patch border.
* Large photos are analysed at the analysis scale: the photo is shrunk by the smallest power of 2
  that brings its longer side to at most ANALYSIS_SIDE (1024) pixels, and the output's pixels are
  pixels of that scale. ``upscale`` 2 or 4 then reads the full-resolution photo through the refined
  field (real detail; see core.upscale), or synthesises the finest octave where the photo has none.

Pure numpy: never imports bpy, torch or PIL.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .lattice import axis_periods, snap_to_lattice
from .refine import SOFTEN, ExemplarAnalysis, analyse, apply_field, patch_cuts, synthesize
from .refine import plan as refine_plan
from .upscale import box_shrink, check_factor, periodic_resize, upscale_through_field

MIN_SIDE = 32             # smaller photos are refused: too little to copy patches from
MAX_CHANNELS = 5          # RGB, or an aligned stack of maps such as albedo + height + roughness
MIN_SIZE, MAX_SIZE = 32, 8192   # output side, after upscaling
ANALYSIS_SIDE = 1024      # photos are analysed with their longer side at most this (a power-of-2 shrink)
LIGHTING_SIGMA = 0.25     # equalise_lighting: trends wider than this share of the smaller side go
GAIN_LIMITS = (0.25, 4.0)  # ... and no pixel is brightened or darkened more than this
# Synthesis settings for photos (benchmarks/seamless.py photos, SWD ratio over 2 seeds): the
# generator's defaults (jitter 0.2, patch 0.2) cut stones and bricks into a mosaic (gravel 1.38-1.51,
# brick 2.6-3.1); without jitter, start tiles of half the photo's smaller side keep the most whole
# (patch 0.25 / 0.35 / 0.5: cobblestones 1.45,0.96 / 1.46,1.09 / 0.91,0.95; Rock058 1.46,1.21 /
# 1.25,1.37 / 1.19,1.31; brick 1.53,1.59 / 1.26,1.52 / 1.42,1.26; gravel and grass alike). A photo has
# one look to keep, not variations to invent, so large verbatim pieces are welcome.
PHOTO_JITTER, PHOTO_PATCH = 0.0, 0.5
QUIET_SLACK = 0.02  # quiet_roll: lines this share of a side from the fewest cuts count as quiet too

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
        raise ValueError(f"the image is {a.shape[1]}x{a.shape[0]} px: too small to make seamless "
                         f"(at least {MIN_SIDE} px a side)")
    if not np.isfinite(a).all():
        raise ValueError("the image holds NaN or infinite values")
    return np.clip(a, 0.0, 1.0)


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


def equalise_lighting(image, sigma: float = LIGHTING_SIGMA) -> np.ndarray:
    """Divide out slow luminance trends (vignetting, light fall-off), keeping the mean brightness.

    The colour channels are multiplied by mean(L) / T, L the luminance and T its trend: the
    quadratic surface through L plus a Gaussian blur (`sigma` times the smaller side, mirrored
    borders) of what is left (a blur alone bends a ramp flat near the borders, where the mirror
    sees none). The gain stays within GAIN_LIMITS. Channels after the colour ones (aligned maps
    such as height or roughness) are left untouched.
    """
    a = check_photo(image)
    lum = luminance(a).astype(np.float64)
    surface = quadratic_trend(lum)
    trend = surface + wide_blur(lum - surface, sigma * min(lum.shape))
    gain = np.clip(lum.mean() / np.maximum(trend, 1e-4), *GAIN_LIMITS).astype(np.float32)
    out = a.copy()
    c = colour_channels(a.shape[2])
    out[..., :c] = np.clip(a[..., :c] * gain[..., None], 0.0, 1.0)
    return out


# ---------------------------------------------------------------- the field

def analysis_factor(shape: tuple[int, ...], side: int = ANALYSIS_SIDE) -> int:
    """The power of 2 that shrinks a photo of this (H, W, ...) shape to at most `side` a side."""
    factor = 1
    while max(shape[:2]) > factor * side:
        factor *= 2
    return factor


def quiet_roll(coords: np.ndarray, exemplar: np.ndarray, seed: int, radius: int = SOFTEN + 1) -> np.ndarray:
    """The field rolled (still exactly periodic) so that its wrap border lies inside patches: the
    last row (column) becomes one with the fewest pixels within `radius` of a cut across it, so the
    border is a line of the photo itself. Of those within QUIET_SLACK of the fewest, the one whose
    jump (exemplar luminance read through the field) is nearest the mean jump: the image's edge is
    then not drawn along a mortar line. Remaining ties go to the first after a seed-chosen place."""
    near_x, near_y = patch_cuts(coords, radius)
    h, w = exemplar.shape[:2]
    values = luminance(exemplar).ravel().take(coords[..., 0].astype(np.int64) * w + coords[..., 1])
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EA1])
    shifts = []
    for axis, near in ((0, near_y), (1, near_x)):
        counts = near.sum(axis=1 - axis)
        jumps = np.abs(np.roll(values, -1, axis) - values).mean(axis=1 - axis)  # jump from line i to i + 1
        start = int(rng.integers(len(counts)))
        order = (start + np.arange(len(counts))) % len(counts)
        quiet = order[counts[order] <= counts.min() + QUIET_SLACK * len(counts)]
        best = int(quiet[np.argmin(np.abs(jumps[quiet] - jumps.mean()))])
        shifts.append(len(counts) - 1 - best)
    return np.roll(coords, tuple(shifts), axis=(0, 1))


def typical_border(image: np.ndarray, reach: int) -> np.ndarray:
    """An exactly periodic image rolled by at most `reach` pixels per axis so that its wrap border's
    jump is nearest the mean jump between its lines. After upscaling, quiet_roll's choice holds at
    the coarse scale only, and the finest band's line-to-line contrast varies (one line of 256 was
    the strongest of all in a test): the border should be a typical line, not the strongest."""
    a = np.asarray(image)
    lum = luminance(a)
    shifts = []
    for axis in (0, 1):
        jumps = np.abs(np.roll(lum, -1, axis) - lum).mean(axis=1 - axis)  # jump from line i to i + 1
        n = len(jumps)
        candidates = np.arange(n - 1 - reach, n + reach) % n  # lines near the current border (n - 1)
        best = int(candidates[np.argmin(np.abs(jumps[candidates] - jumps.mean()))])
        shifts.append(n - 1 - best)
    return np.roll(a, tuple(shifts), axis=(0, 1))


@dataclass(frozen=True)
class PreparedPhoto:
    """A photo analysed once, for any number of seeds and sizes: photo (H, W, C) at full resolution
    (lighting equalised when asked); exemplar: the photo shrunk `factor` times (the analysis scale);
    analysis: refine.analyse of the exemplar (non-periodic)."""
    photo: np.ndarray
    exemplar: np.ndarray
    factor: int
    analysis: ExemplarAnalysis


def prepare_photo(image, *, equalise: bool = True, analysis_side: int = ANALYSIS_SIDE) -> PreparedPhoto:
    """Check, equalise and analyse a photo (seconds: refine.analyse's k-coherence search)."""
    photo = check_photo(image)
    if equalise:
        photo = equalise_lighting(photo)
    factor = analysis_factor(photo.shape, analysis_side)
    exemplar = box_shrink(photo, factor)
    if min(exemplar.shape[:2]) < MIN_SIDE:
        raise ValueError(f"the image is {photo.shape[1]}x{photo.shape[0]} px: too narrow to make seamless "
                         f"(shrunk to {analysis_side} px long it is under {MIN_SIDE} px wide)")
    return PreparedPhoto(photo, exemplar, factor, analyse(exemplar, periodic=False))


def synthesis_size(size: int, step: int) -> int:
    """The side synthesis works at for an output of `size`: the nearest multiple of `step` (>= step)."""
    return max(step, int(round(size / step)) * step)


def seamless_field(prepared: PreparedPhoto, size: int, seed: int = 0) -> np.ndarray:
    """(S, S, 2) int32 exemplar (y, x) of every pixel of a seamless texture at the analysis scale:
    S = synthesis_size(size, ...), a side synthesis supports, within a pixel or two of `size`."""
    analysis, exemplar = prepared.analysis, prepared.exemplar
    side = synthesis_size(size, 1 << int(analysis.first_level))
    refine_plan(analysis, side, side, jitter=PHOTO_JITTER, patch=PHOTO_PATCH)  # checks the options
    coords = synthesize(analysis, side, side, seed, jitter=PHOTO_JITTER, patch=PHOTO_PATCH)
    periods = axis_periods(exemplar)
    if any(periods):  # a regular texture (tiles, bricks in rows): keep every patch on its lattice
        coords = snap_to_lattice(coords, periods, exemplar.shape[:2], periodic=False)
    return quiet_roll(coords, exemplar, seed)


def render(prepared: PreparedPhoto, coords: np.ndarray, size: int, upscale: int = 1) -> np.ndarray:
    """Read the photo through a seamless field: (size * upscale, size * upscale, C) float32 in [0, 1]."""
    if upscale == 1:
        out = np.clip(apply_field(prepared.exemplar, coords, soften=SOFTEN, periodic=False), 0.0, 1.0)
    else:
        out = upscale_through_field(prepared.photo, coords, prepared.factor, upscale)
        out = typical_border(out, 2 * upscale)
    target = size * upscale
    if out.shape[0] != target:
        out = np.clip(periodic_resize(out, target, target), 0.0, 1.0)
    return out.astype(np.float32)


def check_size(size: int, upscale: int = 1) -> None:
    """ValueError unless MIN_SIZE <= size and size * upscale <= MAX_SIZE."""
    check_factor(upscale)
    if not MIN_SIZE <= size or size * upscale > MAX_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} and size x upscale at most {MAX_SIZE} px, "
                         f"not {size} x {upscale}")


def make_seamless(image, size: int, *, seed: int = 0, equalise: bool = True, upscale: int = 1,
                  analysis_side: int = ANALYSIS_SIDE, progress: Progress | None = None) -> np.ndarray:
    """A photo -> (size * upscale, size * upscale, C) float32 in [0, 1] that tiles exactly.

    image: float32 (H, W, C) in [0, 1], C = 1..5 (grey, RGB, or an aligned stack of maps, which stay
    aligned), at least MIN_SIDE px a side. size: output side at the analysis scale (the photo's own
    scale for photos up to ANALYSIS_SIDE px long; 1/2, 1/4, ... of it for larger ones, see the module
    doc). Synthesis needs a side that is a multiple of 2 or 4 (the first analysed pyramid level); any
    other size is synthesised at the nearest such side and resized periodically (bicubic), a change
    of under 1 % for sizes of 256 and more. seed: another seed, another layout. equalise: divide out
    slow lighting trends first. upscale: 1, 2 or 4 (core.upscale). progress(fraction) as it goes.
    Raises ValueError (one sentence) for an unusable image or size.
    """
    check_size(size, upscale)
    report = progress or (lambda f: None)
    prepared = prepare_photo(image, equalise=equalise, analysis_side=analysis_side)
    report(0.6)
    coords = seamless_field(prepared, size, seed)
    report(0.8)
    out = render(prepared, coords, size, upscale)
    report(1.0)
    return out
