"""Tileable upscaling (x2, x4) through a coordinate field: detail from the photo, never invented blur.

A seamless texture made by core.photo.seamless is a coordinate field into the photo at the analysis scale
(every output pixel points at a photo pixel). Upscaling keeps that field and refines it
(refine.upsample: child = 2 * parent + offset), so the result stays exactly periodic and every patch
stays where it was:

* Real detail: when the photo was analysed at 1/f of its resolution, ``upscale <= f`` reads the photo
  itself at f / upscale of its size through the refined field (for f = upscale: the full-resolution
  photo). Nothing is interpolated.
* Synthesised detail, for the factor the photo cannot give: a periodic bicubic upsample
  (``periodic_resize``) plus a detail band. The band is the photo's finest Laplacian level
  (``finest_band``: what a 5-tap binomial blur removes), read 1:1 through the refined field (which
  points into an image 2 or 4 times the photo's size: the band is mirrored past its borders), at the
  amplitude the photo's own spectrum predicts for the next octave (the finest band's std over the second finest's, ``octave_gain``) and modulated by how busy
  the texture is there (``detail_gate``), so flat areas stay flat.

Pure numpy: never imports bpy or torch.
"""
from __future__ import annotations

import math

import numpy as np

from ..synthesis.exemplar_analysis import blur_downsample
from ..synthesis.read_field import SOFTEN, apply_field
from ..synthesis.refine import upsample

FACTORS = (1, 2, 4)
GATE_SIGMA = 4.0            # detail_gate smooths local detail energy over about this many pixels
GATE_LIMITS = (0.0, 2.0)    # ... and bounds the local gain
GAIN_LIMITS = (0.25, 1.0)   # octave_gain bounds: the next octave is never stronger than the finest one
_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0


def check_factor(factor: int) -> int:
    """An upscale factor of FACTORS, or ValueError."""
    if factor not in FACTORS:
        raise ValueError(f"upscale must be one of {', '.join(map(str, FACTORS))}, not {factor}")
    return int(factor)


# ---------------------------------------------------------------- periodic resampling

def _cubic_weights(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution (a = -0.5) weights of the 4 taps at -1, 0, 1, 2 for fractions t: (n, 4)."""
    a = -0.5
    d = np.stack([1 + t, t, 1 - t, 2 - t], axis=-1)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, far).astype(np.float32)


def _resize_axis(image: np.ndarray, size: int, axis: int) -> np.ndarray:
    n = image.shape[axis]
    if n == size:
        return image
    pos = (np.arange(size) + 0.5) * n / size - 0.5
    base = np.floor(pos).astype(np.int64)
    weights = _cubic_weights((pos - base).astype(np.float32))
    out = 0.0
    for k in range(4):
        taken = np.take(image, (base - 1 + k) % n, axis=axis)
        shape = [1] * image.ndim
        shape[axis] = size
        out = out + taken * weights[:, k].reshape(shape)
    return np.asarray(out, np.float32)


def periodic_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w, C) -> (height, width, C) by bicubic interpolation on the torus (reads wrap), so a
    periodic image stays exactly periodic. Meant for enlarging and for small size changes."""
    img = np.asarray(image, np.float32)
    return _resize_axis(_resize_axis(img, height, 0), width, 1)


# ---------------------------------------------------------------- detail bands

def _binomial_blur(image: np.ndarray, mode: str) -> np.ndarray:
    """5-tap binomial blur of rows and columns; borders mirrored ('reflect') or wrapped ('wrap')."""
    h, w = image.shape[:2]
    p = np.pad(image, ((2, 2), (2, 2)) + ((0, 0),) * (image.ndim - 2), mode=mode)
    rows = sum(_BINOMIAL[i] * p[i:i + h] for i in range(5))
    return sum(_BINOMIAL[i] * rows[:, i:i + w] for i in range(5))


def finest_band(image: np.ndarray, periodic: bool = False) -> np.ndarray:
    """The finest Laplacian level: the image minus its binomial blur (mirrored borders unless periodic)."""
    img = np.asarray(image, np.float32)
    return img - _binomial_blur(img, "wrap" if periodic else "reflect")


def octave_gain(photo: np.ndarray) -> float:
    """Expected std of the next finer octave over the finest one's: the finest band's std over that
    of the band one octave coarser (natural textures' spectra fall off steadily), within GAIN_LIMITS."""
    fine = float(finest_band(photo).std())
    coarse = float(finest_band(blur_downsample(photo, periodic=False)).std())
    if coarse <= 1e-8:
        return GAIN_LIMITS[0]
    return float(np.clip(fine / coarse, *GAIN_LIMITS))


def detail_gate(texture: np.ndarray, reference_energy: float) -> np.ndarray:
    """(H, W, 1) local gain: the texture's own finest-band energy, smoothed over about GATE_SIGMA
    pixels (on the torus), over the photo's mean energy; square-rooted, within GATE_LIMITS."""
    energy = (finest_band(texture, periodic=True) ** 2).mean(axis=-1, keepdims=True)
    for _ in range(int(round(GATE_SIGMA ** 2))):  # repeated binomial blurs: sigma grows as sqrt(count)
        energy = _binomial_blur(energy, "wrap")
    gate = np.sqrt(np.maximum(energy, 0.0) / max(reference_energy, 1e-12))
    return np.clip(gate, *GATE_LIMITS).astype(np.float32)


def phase_seam_ratio(image: np.ndarray, factor: int) -> float:
    """core.tiling.seam_ratio for an image enlarged `factor` times: the wrap borders' jumps over the
    interior jumps between lines at the same phase modulo `factor` (the wrap border lies between
    lines factor - 1 and 0 of a cell). Interpolation makes jumps alternate with the phase (bicubic
    x2: those between cells are about 1.2 times those inside one), which the plain ratio would count
    as a seam. About 1 when the wrap border looks like the lines of its phase."""
    a = np.asarray(image, np.float64)
    a = a[..., None] if a.ndim == 2 else a
    jx = np.abs(np.diff(a, axis=1)).mean(axis=(0, 2))[factor - 1::factor]
    jy = np.abs(np.diff(a, axis=0)).mean(axis=(1, 2))[factor - 1::factor]
    seam = 0.5 * (np.abs(a[:, 0] - a[:, -1]).mean() + np.abs(a[0] - a[-1]).mean())
    interior = 0.5 * (jx.mean() + jy.mean())
    return float(seam / interior) if interior > 0 else (1.0 if seam == 0 else float("inf"))


# ---------------------------------------------------------------- upscaling through a field

def box_shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """(h, w, C) -> (h // factor, w // factor, C) by averaging factor x factor blocks (a crop first)."""
    img = np.asarray(image, np.float32)
    if factor == 1:
        return img
    h, w = img.shape[0] // factor, img.shape[1] // factor
    rows = img[:h * factor, :w * factor].reshape(h, factor, w * factor, -1)
    out = np.empty((h, w, rows.shape[-1]), np.float32)
    step = max(1, (1 << 21) // rows[0, 0].size)  # output rows per pass: a float64 sum of 16 MB at most
    for r in range(0, h, step):
        # whole source rows added in float64 (contiguous reads; exact for 8- and 16-bit levels, so the
        # same figures as a mean over the blocks), then each row's blocks summed
        total = rows[r:r + step, 0].astype(np.float64)
        for i in range(1, factor):
            total += rows[r:r + step, i]
        block = total.reshape(len(total), w, factor, -1).sum(axis=2)
        block /= factor * factor
        out[r:r + step] = block
    return out


def refine_field(coords: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) coordinates into an (h, w) image -> (factor H, factor W, 2) into (factor h, factor w)."""
    cy, cx = coords[..., 0], coords[..., 1]
    for step in range(int(math.log2(factor))):
        scale = 2 ** (step + 1)
        cy, cx = upsample(cy, cx, (shape[0] * scale, shape[1] * scale))
    return np.stack([cy, cx], axis=-1).astype(np.int32)


def upscale_through_field(photo: np.ndarray, coords: np.ndarray, analysis_factor: int, factor: int,
                          soften: int = SOFTEN) -> np.ndarray:
    """A texture read through `coords`, `factor` times larger: (H, W, 2) field into the photo shrunk
    `analysis_factor` times -> (factor H, factor W, C) float32 in [0, 1], exactly periodic.

    photo: (h, w, C) at full resolution. analysis_factor, factor: powers of 2. See the module doc:
    real photo pixels up to analysis_factor, synthesised detail bands beyond.
    """
    check_factor(factor)
    real = min(factor, analysis_factor)
    source = box_shrink(photo, analysis_factor // real)
    field = refine_field(coords, real, (source.shape[0] // real, source.shape[1] // real))
    out = np.clip(apply_field(source, field, soften=soften * real, periodic=False), 0.0, 1.0)
    if real == factor:
        return out
    band = finest_band(source)
    step_gain = gain = octave_gain(source)
    reference = float((band ** 2).mean(axis=-1).mean())  # the finest band's energy at the current scale
    shape = source.shape[:2]
    for _ in range(int(math.log2(factor // real))):
        gate = detail_gate(out, reference)
        field = refine_field(field, 2, shape)
        shape = (shape[0] * 2, shape[1] * 2)
        # the refined field points into an image `shape` large: the band, mirrored past its borders
        mirrored = np.pad(band, ((0, shape[0] - band.shape[0]), (0, shape[1] - band.shape[1]), (0, 0)),
                          mode="symmetric")
        detail = apply_field(mirrored, field, soften=soften, periodic=False)
        base = periodic_resize(out, 2 * out.shape[0], 2 * out.shape[1])
        gate = np.repeat(np.repeat(gate, 2, axis=0), 2, axis=1)
        out = np.clip(base + gain * gate * detail, 0.0, 1.0)
        reference *= step_gain ** 2  # each further octave is weaker again
        gain *= step_gain
    return out
