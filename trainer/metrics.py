"""Quality metrics for generated tileable texture stacks, numpy only (no torch, no pretrained nets).

Images are float arrays shaped (N, C, H, W) with values in [0, 1]; C is anything (5 for the
albedo/height/roughness stacks of blender_texgan.core.maps, 3 for RGB). Metrics:

* ``sliced_wasserstein`` - the multi-scale sliced Wasserstein distance of Karras et al. 2018
  (PGGAN, appendix D) between 7x7 patches of the Laplacian pyramids of two image sets.
* ``swd_ratio`` - SWD(fake, held-out real) / SWD(reference real, held-out real): about 1 when the
  generated crops are as close to unseen real texture as real training crops are.
* ``seam_ratio_batch`` - mean wrap-seam visibility (core.tiling.seam_ratio); about 1 when tileable.
* ``grid_ratio`` - mean jump across the lines of a generator's latent-cell grid / across all lines:
  about 1 when the grid leaves no trace, above 1 for a faint grid pattern.
* ``diversity_ratio`` - spread of generated images / spread of real crops, measured with a
  translation-invariant texture descriptor so that shifted copies of one texture count as collapse.
* ``evaluate`` - all of the above as a JSON-safe dict.

Structure-aware metrics, for textures whose stones, planks and mortar lines a net may blur away:

* ``bandpass_marginals`` - per Laplacian level, the 1-D Wasserstein distance between the
  distributions of all band-pass coefficients (of luminance, or of one channel), over the real
  set's std there: edges and mortar lines give heavy tails that a blurry texture lacks.
* ``coarse_swd`` - SWD on images shrunk 4x, so that 7x7 patches cover whole stones.
* ``structure_metrics`` - both as ratios to real-vs-real, a JSON-safe dict to merge with evaluate's.
* ``verbatim_copy_extent`` - side of the largest rigidly copied region of a coordinate field
  (exemplar-based synthesis): large values mean the output is a collage of big pasted pieces.

Plus the data helpers ``holdout_split`` and ``random_crop`` (trainer.data.CropSampler draws with it).
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Sequence

import numpy as np

from blender_texgan.core.maps import GENERATED_CHANNEL_COUNT, GENERATED_CHANNELS
from blender_texgan.core.synthesis.quilt import border_pairs
from blender_texgan.core.tiling import seam_ratio

PATCH_SIZE = 7
PATCHES_PER_IMAGE = 128
PROJECTIONS = 512
SWD_MIN_SIDE = 16       # coarsest pyramid level used by SWD is at least this big (as in PGGAN)
DESCRIPTOR_MIN_SIDE = 8  # coarsest level used by the diversity descriptor
STD_FLOOR = 1e-3        # floor on standard deviations used for normalisation (values live in [0, 1])

# The bar of the default library: (threshold, "max" or "min") per metric, judged at export.
QUALITY_BAR = {"swd_ratio": (1.5, "max"), "seam_ratio": (1.05, "max"), "diversity_ratio": (0.7, "min")}


def meets_bar(metrics: dict) -> bool:
    """Does every metric of the quality bar lie on its good side? (A missing metric does not.)"""
    return all(k in metrics and (metrics[k] <= v if side == "max" else metrics[k] >= v)
               for k, (v, side) in QUALITY_BAR.items())


# ---------------------------------------------------------------- real-vs-real, once

_REAL_VS_REAL: OrderedDict = OrderedDict()
REAL_VS_REAL_KEPT = 16   # results kept (a few floats each)


def _digest(a: np.ndarray) -> tuple:
    a = np.ascontiguousarray(a)
    return a.shape, a.dtype.str, hashlib.blake2b(a.data, digest_size=16).digest()


def real_vs_real(metric, reference, heldout, **options):
    """metric(reference, heldout, **options), computed once per content: the same real crops are measured
    against each other beside every mode an export or eval scores (the reference and held-out crops
    are the same for all), so each mode pays only for its own samples. Keyed by the arrays' bytes."""
    key = (metric.__qualname__, _digest(reference), _digest(heldout), tuple(sorted(options.items())))
    if key not in _REAL_VS_REAL:
        _REAL_VS_REAL[key] = metric(reference, heldout, **options)
        while len(_REAL_VS_REAL) > REAL_VS_REAL_KEPT:
            _REAL_VS_REAL.popitem(last=False)
    return _REAL_VS_REAL[key]


# ---------------------------------------------------------------- Laplacian pyramid

def _as_batch(batch) -> np.ndarray:
    a = np.asarray(batch, np.float64)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) images, got shape {a.shape}")
    return a


def _taps(x: np.ndarray, axis: int, stride: int = 1):
    """tap(d): x[i + d] (wrapping) along `axis` (-2 or -1) at the positions i = 0, stride, 2 stride, ..."""
    n = x.shape[axis]
    padded = x.take(np.arange(-2, n + 2) % n, axis=axis)   # two more on each side, wrapped

    def tap(d: int) -> np.ndarray:
        part = slice(2 + d, 2 + d + n, stride)
        return padded[..., part, :] if axis == -2 else padded[..., part]
    return tap


def _blur_axis(x: np.ndarray, axis: int, stride: int = 1) -> np.ndarray:
    """The 5-tap binomial [1, 4, 6, 4, 1] / 16 along `axis`, periodic, at every `stride`-th position."""
    tap = _taps(x, axis, stride)
    return (6.0 * tap(0) + 4.0 * (tap(-1) + tap(1)) + (tap(-2) + tap(2))) / 16.0


def _blur(x: np.ndarray) -> np.ndarray:
    """Separable 5-tap binomial [1, 4, 6, 4, 1] / 16 blur over the last two axes, periodic borders."""
    return _blur_axis(_blur_axis(x, -2), -1)


def _downsample(x: np.ndarray) -> np.ndarray:
    """_blur(x)[..., ::2, ::2], computed at the kept rows and columns only (the same figures)."""
    return _blur_axis(_blur_axis(x, -2, 2), -1, 2)


def _spread_axis(x: np.ndarray, axis: int) -> np.ndarray:
    """_blur_axis of x with zeros inserted after every value along `axis` (twice the length): the
    even positions (6 x_i + (x_(i-1) + x_(i+1))) / 16, the odd ones 4 (x_i + x_(i+1)) / 16, the same
    sums without the zeros' terms."""
    tap = _taps(x, axis)
    even = (6.0 * tap(0) + (tap(-1) + tap(1))) / 16.0
    odd = 4.0 * (tap(0) + tap(1)) / 16.0
    shape = list(x.shape)
    shape[axis] *= 2
    return np.stack([even, odd], axis=axis).reshape(shape)   # (..., n, 2[, W]) -> interleaved


def _upsample(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Zero insertion to `shape`, then the same binomial blur with gain 4 (2 per axis); for even sides
    (every level of an even-sided image) without the zeros, along each axis in turn."""
    if tuple(shape) == (2 * x.shape[-2], 2 * x.shape[-1]):
        return 4.0 * _spread_axis(_spread_axis(x, -2), -1)
    up = np.zeros(x.shape[:-2] + tuple(shape), x.dtype)
    up[..., ::2, ::2] = x
    return 4.0 * _blur(up)


def max_levels(height: int, width: int, min_side: int = SWD_MIN_SIDE) -> int:
    """How many pyramid levels keep the coarsest one at least `min_side` pixels on its short side."""
    side, levels = min(height, width), 1
    while (side + 1) // 2 >= min_side:
        side = (side + 1) // 2
        levels += 1
    return levels


def laplacian_pyramid(batch, levels: int) -> list[np.ndarray]:
    """Laplacian pyramid of every image: `levels` arrays, finest first, each (N, C, h, w) float64.

    Level k = G_k - upsample(G_{k+1}) with G_0 the image and G_{k+1} = blur(G_k)[::2, ::2]; the last
    entry is the low-pass residual G_{levels-1}. Blurs wrap around (periodic borders), so the
    pyramid of a tileable texture has no border artefacts. ``laplacian_collapse`` inverts it exactly.
    """
    g = _as_batch(batch)
    if levels < 1:
        raise ValueError("levels must be at least 1")
    out = []
    for _ in range(levels - 1):
        low = _downsample(g)
        out.append(g - _upsample(low, g.shape[-2:]))
        g = low
    out.append(g)
    return out


def laplacian_collapse(pyramid: Sequence[np.ndarray]) -> np.ndarray:
    """Inverse of laplacian_pyramid."""
    g = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        g = band + _upsample(g, band.shape[-2:])
    return g


# ---------------------------------------------------------------- sliced Wasserstein distance

def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *stream])


def _patches(level: np.ndarray, count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """`count` random size x size patches fully inside every image -> (N * count, C, size, size)."""
    n, c, h, w = level.shape
    if h < size or w < size:
        raise ValueError(f"pyramid level {h}x{w} is smaller than the {size}x{size} patches; use fewer levels")
    ys = rng.integers(0, h - size + 1, (n, count))
    xs = rng.integers(0, w - size + 1, (n, count))
    d = np.arange(size)
    p = level[np.arange(n)[:, None, None, None, None],
              np.arange(c)[None, None, :, None, None],
              (ys[:, :, None, None, None] + d[:, None]),
              (xs[:, :, None, None, None] + d[None, :])]
    return p.reshape(n * count, c, size, size)


def _swd_1d(a: np.ndarray, b: np.ndarray, projections: int, rng: np.random.Generator) -> float:
    """SWD between two descriptor sets (rows): random unit directions, sort, mean |difference|."""
    n = min(len(a), len(b))
    if len(a) > n:
        a = a[np.sort(rng.choice(len(a), n, replace=False))]
    if len(b) > n:
        b = b[np.sort(rng.choice(len(b), n, replace=False))]
    dirs = rng.standard_normal((a.shape[1], projections))
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    pa = dirs.T @ a.T  # (projections, n), C-contiguous: sorting along the last axis is fast
    pb = dirs.T @ b.T
    pa.sort(axis=1)
    pb.sort(axis=1)
    return float(np.abs(pa - pb).mean())


def sliced_wasserstein(a, b, levels: int | None = None, patches_per_image: int = PATCHES_PER_IMAGE,
                       patch_size: int = PATCH_SIZE, projections: int = PROJECTIONS, seed: int = 0,
                       return_levels: bool = False):
    """Multi-scale sliced Wasserstein distance between image sets a and b (Karras et al. 2018).

    For every Laplacian pyramid level: `patches_per_image` random patch_size x patch_size patches per
    image (fully inside the image), flattened to C*patch_size**2 descriptors; each channel is
    normalised by the mean and std of *b*'s patches at that level (PGGAN normalises each set by its
    own statistics, which hides colour and contrast shifts; using b for both keeps them visible and
    gives the numerator and denominator of swd_ratio the same scale, b being the held-out real set).
    Then the SWD over `projections` random unit directions: project, sort, mean absolute difference,
    the larger set first subsampled to the size of the smaller one.

    levels=None uses as many levels as keep the coarsest one >= 16 pixels (the smaller of a and b).
    Deterministic for a given seed. Returns the mean over levels, or (mean, per-level list) when
    return_levels. Unlike PGGAN's reporting the values are not multiplied by 1e3. SWD has a positive
    small-sample bias, so compare values computed from equal numbers of patches (see swd_ratio).
    """
    a, b = _as_batch(a), _as_batch(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"channel counts differ: {a.shape[1]} vs {b.shape[1]}")
    if levels is None:
        levels = min(max_levels(*a.shape[-2:]), max_levels(*b.shape[-2:]))
    pyr_a, pyr_b = laplacian_pyramid(a, levels), laplacian_pyramid(b, levels)
    per_level = []
    for k, (la, lb) in enumerate(zip(pyr_a, pyr_b)):
        pa = _patches(la, patches_per_image, patch_size, _rng(seed, k, 0))
        pb = _patches(lb, patches_per_image, patch_size, _rng(seed, k, 1))
        mean = pb.mean(axis=(0, 2, 3), keepdims=True)
        std = np.maximum(pb.std(axis=(0, 2, 3), keepdims=True), STD_FLOOR)
        da = ((pa - mean) / std).reshape(len(pa), -1)
        db = ((pb - mean) / std).reshape(len(pb), -1)
        per_level.append(_swd_1d(da, db, projections, _rng(seed, k, 2)))
    mean_swd = float(np.mean(per_level))
    return (mean_swd, per_level) if return_levels else mean_swd


def _equal_count(fake: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = min(len(fake), len(reference))
    return fake[:n], reference[:n]


def swd_ratio(fake, real_heldout, real_reference, seed: int = 0, **kwargs) -> float:
    """SWD(fake, heldout) / SWD(reference, heldout): the ratio to real-vs-real SWD.

    About 1 when generated images are as close to held-out real texture as real (training-region)
    crops are; well above 1 for poor samples. Fake and reference are cut to the same number of
    images (the first n of each) and share the seed, so both SWDs see the same held-out patches,
    the same projections and the same sample-size bias. Use the same image size for both.
    """
    return _swd_parts(fake, real_heldout, real_reference, seed, **kwargs)[2]


def _swd_parts(fake, real_heldout, real_reference, seed: int, **kwargs) -> tuple[float, float, float]:
    fake, ref = _equal_count(_as_batch(fake), _as_batch(real_reference))
    held = _as_batch(real_heldout)
    if kwargs.get("levels") is None:
        kwargs["levels"] = min(max_levels(*x.shape[-2:]) for x in (fake, ref, held))
    swd = sliced_wasserstein(fake, held, seed=seed, **kwargs)
    swd_real = real_vs_real(sliced_wasserstein, ref, held, seed=seed, **kwargs)
    ratio = swd / swd_real if swd_real > 0 else float("inf")
    return float(swd), float(swd_real), float(ratio)


# ---------------------------------------------------------------- tiling

def seam_ratio_batch(batch) -> float:
    """Mean of core.tiling.seam_ratio over the images: about 1 when they tile, well above with seams."""
    a = _as_batch(batch)
    return float(np.mean([seam_ratio(np.moveaxis(img, 0, -1)) for img in a]))


def grid_ratio(batch, cell: int) -> float:
    """Jumps across every `cell`-th line (rows and columns, the wrap border included, i.e. the
    latent-cell boundaries of an unrolled generated image) / jumps across all lines."""
    a = _as_batch(batch)
    jx = np.abs(a - np.roll(a, 1, axis=-1)).mean(axis=(1, 2))  # (N, W): jump into column j
    jy = np.abs(a - np.roll(a, 1, axis=-2)).mean(axis=(1, 3))  # (N, H)
    on_grid = 0.5 * (jx[:, ::cell].mean(axis=1) + jy[:, ::cell].mean(axis=1))
    everywhere = 0.5 * (jx.mean(axis=1) + jy.mean(axis=1))
    return float(np.mean(on_grid / np.maximum(everywhere, 1e-12)))


# ---------------------------------------------------------------- diversity

QUANTILES = (0.1, 0.5, 0.9)


def _luminance(a: np.ndarray) -> np.ndarray:
    if a.shape[1] >= 3:
        return np.tensordot(np.array([0.2126, 0.7152, 0.0722]), a[:, :3], axes=(0, 1))
    return a.mean(axis=1)


def _radial_log_spectrum(lum: np.ndarray, bins_per_octave: int = 2) -> np.ndarray:
    """(N, H, W) -> (N, B) log10 of the mean power in radial frequency bands (cycles / pixel)."""
    n, h, w = lum.shape
    x = lum - lum.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(x)) ** 2 / (h * w)
    r = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.fftfreq(w)[None, :] ** 2)
    lowest = 1.0 / min(h, w)
    edges = [0.5 * np.sqrt(2.0)]
    while edges[-1] / 2 ** (1.0 / bins_per_octave) >= lowest:
        edges.append(edges[-1] / 2 ** (1.0 / bins_per_octave))
    edges = edges[::-1]  # ascending; the first band starts at the lowest nonzero frequency
    flat, rf = power.reshape(n, -1), r.ravel()
    feats = []
    for lo, hi in zip([lowest * 0.999] + edges[:-1], edges):
        mask = (rf >= lo) & (rf < hi) & (rf > 0)
        if mask.any():
            feats.append(np.log10(flat[:, mask].mean(axis=1) + 1e-10))
    return np.stack(feats, axis=1)


def texture_descriptor(batch, levels: int | None = None) -> np.ndarray:
    """Translation-invariant per-image descriptor, (N, D).

    * For every Laplacian (band-pass, periodic) level and channel: std, mean |value| and the
      10/50/90 % quantiles of the band's values.
    * For the low-pass residual and every channel: mean, std and the 10/90 % quantiles.
    * The radially averaged power spectrum of luminance (Rec. 709 of the first 3 channels, or the
      channel mean when C < 3), log10, two bands per octave in cycles/pixel.

    All of these are pooled over positions, so a circularly shifted image has (the spectrum exactly,
    the pyramid statistics almost exactly) the same descriptor. levels=None: coarsest level >= 8 px.
    """
    a = _as_batch(batch)
    n = len(a)
    if levels is None:
        levels = max_levels(*a.shape[-2:], min_side=DESCRIPTOR_MIN_SIDE)
    pyr = laplacian_pyramid(a, levels)
    feats = []
    for band in pyr[:-1]:
        flat = band.reshape(n, band.shape[1], -1)
        feats += [flat.std(-1), np.abs(flat).mean(-1)]
        feats += list(np.quantile(flat, QUANTILES, axis=-1))
    low = pyr[-1].reshape(n, a.shape[1], -1)
    feats += [low.mean(-1), low.std(-1)] + list(np.quantile(low, (0.1, 0.9), axis=-1))
    desc = np.concatenate([f.reshape(n, -1) for f in feats], axis=1)
    return np.concatenate([desc, _radial_log_spectrum(_luminance(a))], axis=1)


def _mean_pairwise(d: np.ndarray) -> float:
    if len(d) < 2:
        raise ValueError("diversity needs at least 2 images per set")
    diff = d[:, None, :] - d[None, :, :]
    dist = np.sqrt((diff ** 2).sum(-1))
    iu = np.triu_indices(len(d), 1)
    return float(dist[iu].mean())


def diversity_ratio(fake, real) -> float:
    """Mean pairwise descriptor distance among fakes / among real crops (about 1 is healthy).

    Descriptor: ``texture_descriptor`` (per-channel, per-pyramid-level band statistics plus the
    luminance radial power spectrum; translation invariant), each feature divided by its standard
    deviation over the *real* set (floored at 1e-3), Euclidean distance. Mode collapse -- including
    collapse to shifted copies of one texture, which pixel distances would call diverse -- drives it
    towards 0. Fake and real should have the same image size (the descriptor depends on it).
    """
    f, r = _as_batch(fake), _as_batch(real)
    levels = min(max_levels(*x.shape[-2:], min_side=DESCRIPTOR_MIN_SIDE) for x in (f, r))
    df, dr = texture_descriptor(f, levels), texture_descriptor(r, levels)
    if df.shape[1] != dr.shape[1]:
        raise ValueError("fake and real descriptors differ in length; use the same image size")
    scale = np.maximum(dr.std(axis=0), STD_FLOOR)
    real_spread = _mean_pairwise(dr / scale)
    return _mean_pairwise(df / scale) / real_spread if real_spread > 0 else float("inf")


# ---------------------------------------------------------------- all together

def informative_channels(*real_sets: np.ndarray) -> list[int]:
    """Indices of channels that vary in the real data (std above STD_FLOOR in any set)."""
    channels = real_sets[0].shape[1]
    keep = [c for c in range(channels) if max(float(r[:, c].std()) for r in real_sets) > STD_FLOOR]
    return keep or list(range(channels))


def evaluate(fake, real_heldout, real_reference, seed: int = 0) -> dict[str, float]:
    """All metrics as plain floats: swd, swd_real, swd_ratio, seam_ratio, diversity_ratio.

    fake: generated images; real_heldout: crops of the held-out region (holdout_split); and
    real_reference: crops of the training region, as many as and the same size as the fakes.
    diversity_ratio compares the fakes with real_reference.

    Channels that are constant in the real data (a map the source did not have, filled with a
    constant) carry no information to compare against and are left out of every metric.
    """
    fake, real_heldout, real_reference = (np.asarray(a) for a in (fake, real_heldout, real_reference))
    informative = informative_channels(real_heldout, real_reference)
    fake, real_heldout, real_reference = (a[:, informative] for a in (fake, real_heldout, real_reference))
    swd, swd_real, ratio = _swd_parts(fake, real_heldout, real_reference, seed)
    return {"swd": float(swd), "swd_real": float(swd_real), "swd_ratio": float(ratio),
            "seam_ratio": float(seam_ratio_batch(fake)),
            "diversity_ratio": float(diversity_ratio(fake, real_reference))}


# ---------------------------------------------------------------- structure-aware metrics

BANDPASS_MIN_SIDE = 8    # coarsest pyramid level of bandpass_marginals is at least this big
BANDPASS_QUANTILES = 256
COARSE_FACTOR = 4        # coarse_swd shrinks images this many times (pyramid downsample, twice)


def _one_channel(a: np.ndarray, channel: int | None) -> np.ndarray:
    """(N, C, H, W) -> (N, 1, H, W): Rec. 709 luminance of the first 3 channels, or channel `channel`."""
    return _luminance(a)[:, None] if channel is None else a[:, channel:channel + 1]


def _quantile_w1(a: np.ndarray, b: np.ndarray, count: int) -> float:
    """1-D Wasserstein-1 distance between the value distributions of a and b, by quantile matching."""
    q = (np.arange(count) + 0.5) / count
    return float(np.abs(np.quantile(a, q) - np.quantile(b, q)).mean())


def bandpass_marginals(fake, real, levels: int | None = None, channel: int | None = None,
                       quantiles: int = BANDPASS_QUANTILES) -> tuple[float, list[float]]:
    """Distance between the band-pass coefficient distributions of two image sets: (mean, per level).

    For luminance (channel=None; the channel mean when C < 3) or one channel: the Laplacian pyramid
    of every image; per band-pass level (the low-pass residual is left out), the quantile-matching
    W1 distance between ALL coefficients of fake and of real at that level, divided by real's
    coefficient std there (floored at STD_FLOOR). 0 for identical distributions; a blurry texture
    lacks the heavy tails of edges and mortar lines, noise has the wrong shape. levels=None: as
    many as keep the coarsest level >= 8 px (at least 2, so there is one band).
    """
    f, r = _as_batch(fake), _as_batch(real)
    if f.shape[1] != r.shape[1]:
        raise ValueError(f"channel counts differ: {f.shape[1]} vs {r.shape[1]}")
    if levels is None:
        levels = max(2, min(max_levels(*x.shape[-2:], min_side=BANDPASS_MIN_SIDE) for x in (f, r)))
    pyr_f = laplacian_pyramid(_one_channel(f, channel), levels)
    pyr_r = laplacian_pyramid(_one_channel(r, channel), levels)
    per_level = [_quantile_w1(bf, br, quantiles) / max(float(br.std()), STD_FLOOR)
                 for bf, br in zip(pyr_f[:-1], pyr_r[:-1])]
    return float(np.mean(per_level)), per_level


def shrink_images(batch, factor: int = COARSE_FACTOR) -> np.ndarray:
    """(N, C, H, W) -> (N, C, ~H/factor, ~W/factor) by the pyramid's blur-and-subsample (factor a power of 2)."""
    a = _as_batch(batch)
    if factor < 1 or factor & (factor - 1):
        raise ValueError(f"factor must be a power of 2, got {factor}")
    while factor > 1:
        a, factor = _downsample(a), factor // 2
    return a


def coarse_swd(a, b, factor: int = COARSE_FACTOR, seed: int = 0, **kwargs) -> float:
    """sliced_wasserstein on both sets shrunk `factor` times: 7x7 patches then span 7*factor pixels
    of the originals (whole stones), so the layout of large structures counts, not just their edges.
    Needs large crops: the shrunk images must hold the 7x7 patches (>= 16 px for one full level).
    """
    return sliced_wasserstein(shrink_images(a, factor), shrink_images(b, factor), seed=seed, **kwargs)


def _ratio(value: float, real_value: float) -> float:
    """value / real_value; inf when the real-vs-real value is 0."""
    return value / real_value if real_value > 0 else float("inf")


def _height_channel(channels: int) -> int | None:
    """Index of the height channel in a GENERATED_CHANNELS stack of `channels` channels, else None."""
    if channels != GENERATED_CHANNEL_COUNT:
        return None
    names = [name for name, count in GENERATED_CHANNELS for _ in range(count)]
    return names.index("height")


def structure_metrics(fake, real_heldout, real_reference, seed: int = 0) -> dict[str, float]:
    """Structure-aware metrics as ratios to real-vs-real, plain floats (merge with evaluate's dict).

    Inputs as for evaluate (equal counts of fake and reference images, mirroring _swd_parts):
    bandpass_albedo / _real / _ratio (luminance; the channel mean for C < 3), bandpass_height /
    _real / _ratio (only for 5-channel stacks whose real height varies), coarse_swd / _real /
    _ratio (over the channels that vary in the real data). Each ratio is about 1 for real texture.
    """
    fake, held, ref = (_as_batch(x) for x in (fake, real_heldout, real_reference))
    fake, ref = _equal_count(fake, ref)
    out: dict[str, float] = {}
    parts = {"albedo": None}
    height = _height_channel(held.shape[1])
    if height is not None and max(float(held[:, height].std()), float(ref[:, height].std())) > STD_FLOOR:
        parts["height"] = height
    for name, channel in parts.items():
        value = bandpass_marginals(fake, held, channel=channel)[0]
        real_value = real_vs_real(bandpass_marginals, ref, held, channel=channel)[0]
        out.update({f"bandpass_{name}": value, f"bandpass_{name}_real": real_value,
                    f"bandpass_ratio_{name}": _ratio(value, real_value)})
    informative = informative_channels(held, ref)
    fake, held, ref = (shrink_images(x[:, informative]) for x in (fake, held, ref))
    levels = min(max_levels(*x.shape[-2:]) for x in (fake, held, ref))
    value = sliced_wasserstein(fake, held, levels=levels, seed=seed)
    real_value = real_vs_real(sliced_wasserstein, ref, held, levels=levels, seed=seed)
    out.update({"coarse_swd": value, "coarse_swd_real": real_value, "coarse_swd_ratio": _ratio(value, real_value)})
    return {k: float(v) for k, v in out.items()}


def _photo_steps(exemplar: np.ndarray, ys: np.ndarray, xs: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """|E(y + dy, x + dx) - E(y, x)| per point, channel mean, of an (h, w, C) photo (clamped at its
    border)."""
    h, w = exemplar.shape[:2]
    here = exemplar[np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1)]
    there = exemplar[np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)]
    return np.abs(there - here).reshape(len(ys), -1).mean(-1)


def cut_visibility(coords: np.ndarray, image: np.ndarray, exemplar_image: np.ndarray) -> float:
    """How much the borders between patches show: over every pair of neighbouring pixels p | q that
    come from two patches (read off the (H, W, 2) field), the mean step |out(q) - out(p)| of an
    (H, W[, C]) output map, divided by the mean step the photo itself has at those places -- what
    either patch would have shown had it continued across (|E(c(p) + d) - E(c(p))| and
    |E(c(q)) - E(c(q) - d)|). 1.0: a border shows no more than the photo's own lines there; a
    straight cut through stones shows their faces' mismatch, far above 1. (Dividing by the mean step
    over the whole photo instead would blame a cut for following a joint, whose sides are steep.)
    nan for a field without borders."""
    ex = np.asarray(exemplar_image, np.float32)
    ex = ex[..., None] if ex.ndim == 2 else ex
    out = np.asarray(image, np.float32)
    out = out[..., None] if out.ndim == 2 else out
    height, width = coords.shape[:2]
    border, photo = [], []
    for across, (dy, dx) in zip(border_pairs(coords), ((0, 1), (1, 0))):
        ys, xs = np.nonzero(across)
        qy, qx = (ys + dy) % height, (xs + dx) % width
        border.append(np.abs(out[qy, qx] - out[ys, xs]).mean(-1))
        cp, cq = coords[ys, xs], coords[qy, qx]
        photo.append(0.5 * (_photo_steps(ex, cp[:, 0], cp[:, 1], dy, dx)
                            + _photo_steps(ex, cq[:, 0] - dy, cq[:, 1] - dx, dy, dx)))
    border, photo = np.concatenate(border), np.concatenate(photo)
    if border.size == 0:
        return float("nan")
    return float(border.mean() / max(float(photo.mean()), 1e-8))


def cut_visibility_metrics(fake, fields: list, exemplar: np.ndarray) -> dict[str, float]:
    """Mean cut visibility of albedo and height over generated (N, 5, H, W) stacks and their fields,
    against the (5, h, w) exemplar: {"cut_albedo", "cut_height"} (empty without fields)."""
    fake, exemplar = _as_batch(fake), np.asarray(exemplar, np.float32)
    height = _height_channel(fake.shape[1])
    pairs = [(f, s) for f, s in zip(fields, fake) if f is not None]
    if not pairs or height is None:
        return {}
    out = {}
    for name, channels in (("albedo", slice(0, 3)), ("height", slice(height, height + 1))):
        ex = np.moveaxis(exemplar[channels], 0, -1)
        values = [cut_visibility(f, np.moveaxis(s[channels], 0, -1), ex) for f, s in pairs]
        values = [v for v in values if np.isfinite(v)]
        if values:
            out[f"cut_{name}"] = float(np.mean(values))
    return out


def _components(keys: np.ndarray) -> np.ndarray:
    """Labels of the 4-connected regions of equal keys in a 2-D array (label = smallest flat index).

    Union-find in numpy: every edge between equal neighbours hooks the larger root onto the smaller,
    then pointer jumping flattens the trees; each round at least halves the trees per region.
    """
    h, w = keys.shape
    idx = np.arange(h * w).reshape(h, w)
    same_x, same_y = keys[:, 1:] == keys[:, :-1], keys[1:] == keys[:-1]
    a = np.concatenate([idx[:, :-1][same_x], idx[:-1][same_y]])
    b = np.concatenate([idx[:, 1:][same_x], idx[1:][same_y]])
    parent = idx.ravel().copy()
    while True:
        pa, pb = parent[a], parent[b]
        hooks = pa != pb
        if not hooks.any():
            return parent.reshape(h, w)
        parent[np.maximum(pa, pb)[hooks]] = np.minimum(pa, pb)[hooks]
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


def verbatim_copy_extent(coords, exemplar_shape: tuple[int, int]) -> float:
    """Side (sqrt of the area) of the largest region copied verbatim from the exemplar.

    coords: (H, W, 2) integer exemplar pixel (y, x) of every output pixel. A verbatim copy is a
    4-connected region where coords - position is constant modulo exemplar_shape (a rigid, possibly
    wrapped, translated copy). The output is not treated as periodic: a copy crossing its wrap
    border counts as two. H for an exemplar pasted back whole, about 1 for random coordinates.
    """
    c = np.asarray(coords)
    if c.ndim != 3 or c.shape[2] != 2:
        raise ValueError(f"expected an (H, W, 2) coordinate field, got shape {c.shape}")
    eh, ew = int(exemplar_shape[0]), int(exemplar_shape[1])
    ys, xs = np.meshgrid(np.arange(c.shape[0]), np.arange(c.shape[1]), indexing="ij")
    keys = np.mod(c[..., 0].astype(np.int64) - ys, eh) * ew + np.mod(c[..., 1].astype(np.int64) - xs, ew)
    labels = _components(keys)
    return float(np.sqrt(np.bincount(labels.ravel()).max()))


# ---------------------------------------------------------------- real data sets

def holdout_split(stack: np.ndarray, fraction: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Split a (C, H, W) exemplar into (train region, held-out region): the bottom rows are held out.

    round(H * fraction) rows (at least 1) go to the held-out region. Crops of the train region must
    not wrap around vertically into it (crop it with wrap=False).
    """
    stack = np.asarray(stack)
    if stack.ndim != 3:
        raise ValueError(f"expected a (C, H, W) stack, got shape {stack.shape}")
    if not 0.0 < fraction < 1.0:
        raise ValueError("fraction must be between 0 and 1")
    h = stack.shape[1]
    held = max(1, int(round(h * fraction)))
    if held >= h:
        raise ValueError(f"nothing left to train on: {h} rows, {held} held out")
    return stack[:, :h - held], stack[:, h - held:]


def random_crop(stack: np.ndarray, size: int, rng: np.random.Generator, wrap: bool) -> np.ndarray:
    """One size x size crop of a (C, H, W) stack at a random place: anywhere, wrapping around, for a
    periodic stack; fully inside it otherwise."""
    _, h, w = stack.shape
    if wrap:
        y, x = int(rng.integers(h)), int(rng.integers(w))
        return stack[:, ((y + np.arange(size)) % h)[:, None], ((x + np.arange(size)) % w)[None, :]]
    y, x = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
    return stack[:, y:y + size, x:x + size]
