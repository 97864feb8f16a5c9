"""What coordinate synthesis needs to know of an exemplar, worked out once (at export; its arrays go
into the model file): core.synthesis.refine's analysis, after Lefebvre & Hoppe ("Appearance-Space
Texture Synthesis", 2006) with k-coherence lists (Tong et al. 2002).

* ``analyse(exemplar)`` -- a Gaussian pyramid; per level from ``first_level`` up, an int8 appearance
  vector per pixel (PCA of its weighted 5x5 neighbourhood), an int8 mix (PCA of the 3x3 neighbourhood
  of appearance vectors) and, on levels of at most MAX_SIMILAR_PIXELS, k similar pixels per pixel
  (k-coherence lists).
* ``ExemplarAnalysis`` -- those arrays, to and from a model file's tensors (checked on the way in).

The exemplar is read as a torus; a non-periodic exemplar (a photo) is filtered with mirrored borders
and pixels near its border are never chosen (``valid``). Pure numpy: never imports bpy or torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ..maps import check_exemplar
from ..tiling import looks_periodic

APPEARANCE_DIMS = 8          # int8 appearance vector per exemplar pixel
MIXED_DIMS = 8               # dims of the matched neighbourhood feature
SIMILAR = 2                  # k-coherence list length (the pixel itself is always a candidate too)
COARSEST_SIDE = 32           # default pyramid: the coarsest exemplar level's smaller side >= this
MAX_FEATURE_PIXELS = 256 * 256   # finest analysed level: the first with at most this many pixels
MAX_SIMILAR_PIXELS = 128 * 128   # levels up to this size get k-coherence lists; finer ones only refine patch borders
BORDER_MARGIN = 3            # non-periodic exemplars: pixels this near the border are never chosen
EXCLUDE_RADIUS = 2           # k-coherence lists skip pixels this near (Chebyshev) to themselves

# The matched neighbourhood: 3x3 appearance vectors, the centre first (ties keep the current pixel).
OFFSETS = ((0, 0), (-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0])
# sqrt of binomial weights: a 5x5 neighbourhood's distance weighs pixels like a Gaussian.
NEIGHBOURHOOD_WEIGHTS = np.sqrt(np.outer(_BINOMIAL, _BINOMIAL) / 36.0).astype(np.float32)


def feature_limit(mixed_dims: int) -> int:
    """Largest |value| of a mixed feature. A distance sums mixed_dims squares of differences below
    2 * limit; the bound leaves room to raise it by the largest coherence bias (x 9) in int32.
    Guided distances are weighted sums, taken in int64."""
    return int(math.isqrt((2 ** 31 - 1) // (10 * mixed_dims)) // 2) - 1


@dataclass(frozen=True)
class ExemplarAnalysis:
    """What synthesis needs from one exemplar: arrays only, so it can be stored as tensors.

    Level l of the pyramid is (h >> l, w >> l); levels first_level .. first_level + n - 1 are
    analysed (n = len(appearance)); index i below means level first_level + i.

    shape (2,) int32: exemplar (h, w) used (cropped to a multiple of 2 ** (levels - 1));
    first_level () int32; periodic () uint8: 1 when the exemplar tiles;
    basis (n, 25 C, D) float32, mean (n, 25 C) float32, scale (n,) float32: appearance =
    clip(round(((neighbourhood - mean) @ basis) * scale), -127, 127);
    mix (n, 9, D, M) int8, shift (n,) int32: feature(u) = clip(sum_k appearance(u + OFFSETS[k])
    @ mix[k] >> shift, +-feature_limit(M));
    appearance: per level (h_l, w_l, D) int8; similar: per level (h_l, w_l, k) int32 flat indices
    of similar pixels (k = 0 on levels above MAX_SIMILAR_PIXELS, which only refine patch borders);
    valid: per level (h_l, w_l) uint8, the pixels synthesis may choose.
    """
    shape: np.ndarray
    first_level: np.ndarray
    periodic: np.ndarray
    basis: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    mix: np.ndarray
    shift: np.ndarray
    appearance: tuple
    similar: tuple
    valid: tuple

    @property
    def levels(self) -> int:
        """Pyramid levels (0 = full resolution)."""
        return int(self.first_level) + len(self.appearance)

    def level_shape(self, level: int) -> tuple[int, int]:
        """(h, w) of pyramid level `level`."""
        return int(self.shape[0]) >> level, int(self.shape[1]) >> level

    def to_tensors(self, prefix: str = "refine.") -> dict[str, np.ndarray]:
        """Flat name -> array, for a model file (per-level arrays get a '.<i>' suffix)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                out.update({f"{prefix}{f.name}.{i}": np.array(a) for i, a in enumerate(value)})
            else:
                out[prefix + f.name] = np.array(value)  # a copy; keeps 0-d scalars 0-d
        return out

    @classmethod
    def from_tensors(cls, tensors: dict, prefix: str = "refine.") -> "ExemplarAnalysis":
        """Inverse of to_tensors; raises ValueError naming a missing or mis-shaped array."""
        try:
            plain = {f.name: np.asarray(tensors[prefix + f.name]) for f in fields(cls)
                     if f.name not in ("appearance", "similar", "valid")}
            n = int(plain["scale"].shape[0])
            per_level = {name: tuple(np.asarray(tensors[f"{prefix}{name}.{i}"]) for i in range(n))
                         for name in ("appearance", "similar", "valid")}
        except KeyError as exc:
            raise ValueError(f"refinement analysis lacks tensor {exc}") from None
        analysis = cls(**plain, **per_level)
        check_analysis(analysis)
        return analysis


def check_analysis(a: ExemplarAnalysis) -> None:
    """Raise ValueError unless every array has the shape, dtype and range the analysis promises
    (the bounds synthesis relies on to stay exact in int32)."""
    n = len(a.appearance)
    d, m = a.mix.shape[2:] if a.mix.ndim == 4 else (0, 0)
    features = a.mean.shape[-1] if a.mean.ndim == 2 else 0
    expect = {"shape": ((2,), np.int32), "first_level": ((), np.int32), "periodic": ((), np.uint8),
              "basis": ((n, features, d), np.float32), "mean": ((n, features), np.float32),
              "scale": ((n,), np.float32), "shift": ((n,), np.int32), "mix": ((n, 9, d, m), np.int8)}
    for name, (shape, dtype) in expect.items():
        arr = getattr(a, name)
        if arr.shape != shape or arr.dtype != dtype:
            raise ValueError(f"refinement tensor {name}: {arr.dtype} {arr.shape}, expected {np.dtype(dtype)} {shape}")
    if n == 0 or len(a.similar) != n or len(a.valid) != n or features == 0 or features % 25 or not m:
        raise ValueError("refinement analysis: per-level arrays disagree in number or size")
    if a.shape.min() < 1 or a.first_level < 0 or a.shift.min() < 0 or a.shift.max() > 24:
        raise ValueError("refinement analysis: shape, first level or shift out of range")
    for i in range(n):
        hl, wl = a.level_shape(int(a.first_level) + i)
        sim, valid = a.similar[i], a.valid[i]
        if hl < 1 or wl < 1 or a.appearance[i].shape != (hl, wl, d) or a.appearance[i].dtype != np.int8:
            raise ValueError(f"refinement tensor appearance.{i}: {a.appearance[i].dtype} {a.appearance[i].shape}")
        if sim.shape[:2] != (hl, wl) or sim.ndim != 3 or sim.dtype != np.int32 or (
                sim.size and not 0 <= sim.min() <= sim.max() < hl * wl):
            raise ValueError(f"refinement tensor similar.{i}: bad shape, dtype or index")
        if valid.shape != (hl, wl) or valid.dtype != np.uint8 or not valid.any():
            raise ValueError(f"refinement tensor valid.{i}: bad shape or dtype, or no valid pixel")


def default_levels(shape: tuple[int, int]) -> int:
    """Pyramid levels such that the coarsest level's smaller side is at least COARSEST_SIDE."""
    return 1 + max(0, int(math.floor(math.log2(min(shape) / COARSEST_SIDE))))


def _pad(image: np.ndarray, r: int, periodic: bool) -> np.ndarray:
    """Pad rows and columns by r: wrapping when periodic, mirrored otherwise."""
    return np.pad(image, ((r, r), (r, r)) + ((0, 0),) * (image.ndim - 2), mode="wrap" if periodic else "reflect")


def blur_downsample(image: np.ndarray, periodic: bool = True) -> np.ndarray:
    """One pyramid step: binomial 5-tap blur (wrapping, or mirrored when not periodic), keep every other pixel."""
    p = _pad(image.astype(np.float32), 2, periodic)
    k = (_BINOMIAL / 16.0).astype(np.float32)
    h, w = image.shape[:2]
    rows = sum(k[i] * p[i:i + h] for i in range(5))
    blurred = sum(k[i] * rows[:, i:i + w] for i in range(5))
    return np.ascontiguousarray(blurred[::2, ::2])


def gaussian_pyramid(image: np.ndarray, levels: int, periodic: bool = True) -> list[np.ndarray]:
    """[image, half, quarter, ...]: `levels` images, level 0 the input."""
    pyramid = [np.asarray(image, np.float32)]
    for _ in range(levels - 1):
        pyramid.append(blur_downsample(pyramid[-1], periodic))
    return pyramid


def neighbourhood_vectors(image: np.ndarray, periodic: bool = True) -> np.ndarray:
    """(h, w, C) -> (h, w, 25 C): each pixel's weighted 5x5 neighbourhood (reads wrap when periodic)."""
    h, w = image.shape[:2]
    p = _pad(image.astype(np.float32), 2, periodic)
    parts = [p[dy:dy + h, dx:dx + w] * NEIGHBOURHOOD_WEIGHTS[dy, dx] for dy in range(5) for dx in range(5)]
    return np.concatenate(parts, axis=-1)


def _principal_axes(x: np.ndarray, dims: int) -> np.ndarray:
    """(N, F) rows -> (F, dims) orthonormal axes of largest second moment, signs fixed (largest entry > 0)."""
    x = x.astype(np.float64)
    _, vectors = np.linalg.eigh(x.T @ x / max(len(x), 1))
    axes = vectors[:, ::-1][:, :dims]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])])
    return axes * np.where(signs == 0, 1.0, signs)


def quantise_appearance(neighbourhoods: np.ndarray, mean: np.ndarray, basis: np.ndarray,
                        scale: float) -> np.ndarray:
    """(..., 25 C) float neighbourhoods -> (..., D) int8 appearance vectors."""
    projected = (neighbourhoods.astype(np.float64) - mean) @ basis.astype(np.float64)
    return np.clip(np.round(projected * float(scale)), -127, 127).astype(np.int8)


def image_appearance(image: np.ndarray, mean: np.ndarray, basis: np.ndarray, scale: float) -> np.ndarray:
    """(H, W, C) image on a torus -> (H, W, D) int8 appearance vectors, like quantise_appearance of its
    neighbourhood_vectors but summed offset by offset, so no (H, W, 25 C) array is made (guides)."""
    h, w, c = image.shape
    p = _pad(image.astype(np.float64), 2, True)
    b = (basis.astype(np.float64) * float(scale)).reshape(25, c, -1)
    acc = np.full((h * w, b.shape[-1]), -float(scale) * (mean.astype(np.float64) @ basis.astype(np.float64)))
    for k in range(25):
        dy, dx = divmod(k, 5)
        acc += p[dy:dy + h, dx:dx + w].reshape(h * w, c) @ (NEIGHBOURHOOD_WEIGHTS[dy, dx] * b[k])
    return np.clip(np.round(acc), -127, 127).astype(np.int8).reshape(h, w, -1)


def _rolled(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """a read at p + (dy, dx) for every p, wrapping around."""
    return np.roll(a, (-dy, -dx), axis=(0, 1))


def mix_parts(appearance: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """(h, w, D) int8, (9, D, M) int8 -> (9, h, w, M) int32: each offset's share of a mixed feature.

    Exact: float64 holds these integer dot products without rounding.
    """
    a = appearance.astype(np.float64)
    return np.stack([(a @ mix[k].astype(np.float64)) for k in range(len(OFFSETS))]).astype(np.int32)


def mixed_features(parts: np.ndarray, shift: int, limit: int) -> np.ndarray:
    """(9, h, w, M) parts -> (h, w, M) int32 features of every pixel's 3x3 neighbourhood (wrapping)."""
    total = sum(_rolled(parts[k], dy, dx).astype(np.int64) for k, (dy, dx) in enumerate(OFFSETS))
    return np.clip(total >> shift, -limit, limit).astype(np.int32)


def _valid_mask(shape: tuple[int, int], periodic: bool) -> np.ndarray:
    """uint8 mask of the pixels synthesis may choose: all, or all but a BORDER_MARGIN frame."""
    valid = np.ones(shape, np.uint8)
    if not periodic:
        m = BORDER_MARGIN
        valid[:m], valid[-m:], valid[:, :m], valid[:, -m:] = 0, 0, 0, 0
        if not valid.any():
            valid[shape[0] // 2, shape[1] // 2] = 1
    return valid


def similar_pixels(features: np.ndarray, valid: np.ndarray, k: int, block: int = 1024) -> np.ndarray:
    """k-coherence lists: (h, w, M) features -> (h, w, k) int32 flat indices of the k most similar
    valid pixels, skipping each pixel's own neighbourhood (Chebyshev distance <= EXCLUDE_RADIUS on
    the torus). Brute force in blocks; ties go to the lower index."""
    h, w, m = features.shape
    f = features.reshape(-1, m).astype(np.float32)
    norms = (f * f).sum(axis=1)
    bad = np.where(valid.ravel() > 0, 0.0, np.inf).astype(np.float32)
    r = EXCLUDE_RADIUS
    near = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    out = np.empty((h * w, k), np.int32)
    for start in range(0, h * w, block):
        rows = np.arange(start, min(start + block, h * w))
        d = norms[rows, None] + norms[None, :] - 2.0 * (f[rows] @ f.T) + bad
        ry, rx = rows // w, rows % w
        for dy, dx in near:
            d[np.arange(len(rows)), ((ry + dy) % h) * w + (rx + dx) % w] = np.inf
        kk = min(k, d.shape[1] - 1)
        part = np.argpartition(d, kk, axis=1)[:, :kk + 1]
        order = np.lexsort((part, np.take_along_axis(d, part, axis=1)), axis=1)[:, :k]
        out[rows] = np.take_along_axis(part, order, axis=1)
    return out.reshape(h, w, k)


def _analyse_level(image: np.ndarray, dims: int, mixed_dims: int, k: int, periodic: bool,
                   max_similar_pixels: int) -> dict:
    """One pyramid level -> its arrays (see ExemplarAnalysis)."""
    x = neighbourhood_vectors(image, periodic)
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    mean = flat.mean(axis=0)
    basis = _principal_axes(flat - mean, dims)
    spread = ((flat - mean) @ basis[:, 0]).std()
    scale = 127.0 / (4.0 * spread) if spread > 1e-8 else 1.0
    appearance = quantise_appearance(x, mean, basis, scale)
    stacked = np.concatenate([_rolled(appearance, dy, dx) for dy, dx in OFFSETS], axis=-1)
    axes = _principal_axes(stacked.reshape(-1, stacked.shape[-1]), mixed_dims)
    mix = np.clip(np.round(axes * 127.0), -127, 127).astype(np.int8).reshape(len(OFFSETS), dims, mixed_dims)
    parts = mix_parts(appearance, mix)
    raw = sum(_rolled(parts[i], dy, dx).astype(np.int64) for i, (dy, dx) in enumerate(OFFSETS))
    limit = feature_limit(mixed_dims)
    shift = max(0, math.ceil(math.log2((np.abs(raw).max() + 1) / limit)))
    features = mixed_features(parts, shift, limit)
    valid = _valid_mask(appearance.shape[:2], periodic)
    small = features.shape[0] * features.shape[1] <= max_similar_pixels
    similar = similar_pixels(features, valid, k) if small else np.zeros(features.shape[:2] + (0,), np.int32)
    return dict(basis=basis.astype(np.float32), mean=mean.astype(np.float32), scale=np.float32(scale),
                mix=mix, shift=np.int32(shift), appearance=appearance, valid=valid, similar=similar)


def analyse(exemplar, levels: int | None = None, dims: int = APPEARANCE_DIMS, mixed_dims: int = MIXED_DIMS,
            k: int = SIMILAR, max_feature_pixels: int = MAX_FEATURE_PIXELS,
            max_similar_pixels: int = MAX_SIMILAR_PIXELS, periodic: bool | None = None) -> ExemplarAnalysis:
    """Once per exemplar: (h, w, C) float stack in [0, 1] -> ExemplarAnalysis (seconds: the
    k-coherence search is brute force).

    levels: pyramid levels (default: coarsest side >= COARSEST_SIDE); the exemplar is cropped to a
    multiple of 2 ** (levels - 1) (and then counts as not periodic). Levels from the first with at
    most max_feature_pixels pixels are analysed; those with at most max_similar_pixels also get
    k-coherence lists of k pixels. dims, mixed_dims: sizes of the appearance vector and of the
    matched feature. periodic: whether the exemplar tiles (default: tiling.looks_periodic); reads
    wrap either way, but a non-periodic exemplar's pyramid mirrors its borders and its border
    pixels are never chosen.
    """
    ex = check_exemplar(exemplar, 16)
    levels = levels or default_levels(ex.shape[:2])
    step = 2 ** (levels - 1)
    h, w = ex.shape[0] // step * step, ex.shape[1] // step * step
    if h == 0 or w == 0:
        raise ValueError(f"exemplar of {ex.shape[0]}x{ex.shape[1]} px is too small for {levels} levels")
    periodic = looks_periodic(ex) if periodic is None else bool(periodic)
    periodic = periodic and (h, w) == ex.shape[:2]
    pyramid = gaussian_pyramid(ex[:h, :w], levels, periodic)
    first = next((l for l in range(levels) if pyramid[l].shape[0] * pyramid[l].shape[1] <= max_feature_pixels),
                 levels - 1)
    per_level = [_analyse_level(pyramid[l], dims, mixed_dims, k, periodic, max_similar_pixels)
                 for l in range(first, levels)]
    stack = lambda name: np.stack([p[name] for p in per_level])  # noqa: E731
    return ExemplarAnalysis(
        shape=np.array([h, w], np.int32), first_level=np.array(first, np.int32),
        periodic=np.array(int(periodic), np.uint8), basis=stack("basis"), mean=stack("mean"),
        scale=stack("scale").astype(np.float32), mix=stack("mix"), shift=stack("shift").astype(np.int32),
        appearance=tuple(p["appearance"] for p in per_level), similar=tuple(p["similar"] for p in per_level),
        valid=tuple(p["valid"] for p in per_level))
