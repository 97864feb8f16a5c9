"""The joined height's coarse bands given the exemplar's distributions (core.synthesis.band_match): the
fast pyramid steps equal their definitions, coarse bands move onto the exemplar's, fine detail and
the torus are kept, and the joined height's cuts stay hidden (benchmarks/results/closeup.txt measures
the band-pass gain on the CC0 sets). Procedural fixtures: seconds on a CPU."""
from __future__ import annotations

import numpy as np
import pytest

from blender_texgan.core.synthesis import band_match as B
from blender_texgan.core.synthesis import poisson as P
from blender_texgan.core.synthesis import quilt as Q
from trainer.metrics import cut_visibility
from trainer.procedural import make_material


def stones(side: int, seed: int) -> np.ndarray:
    """An (side, side, 5) cobblestone stack (albedo, height, roughness): rounded setts in mortar."""
    m = make_material("cobblestones", seed, side)
    return np.dstack([m["albedo"], m["height"], m["roughness"]]).astype(np.float32)


def blur(x: np.ndarray) -> np.ndarray:
    """The definition: binomial [1, 4, 6, 4, 1] / 16 along both axes, wrapping."""
    for axis in (0, 1):
        x = (6.0 * x + 4.0 * (np.roll(x, 1, axis) + np.roll(x, -1, axis))
             + (np.roll(x, 2, axis) + np.roll(x, -2, axis))) / 16.0
    return x


@pytest.mark.parametrize("shape", [(16, 16), (17, 16), (16, 17), (9, 13), (7, 7), (64, 66)])
def test_pyramid_steps_equal_their_definitions(shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.random(shape).astype(np.float32)
    down = B._down(x)
    assert np.abs(down - blur(x.astype(np.float64))[::2, ::2]).max() < 1e-5
    zeros = np.zeros(shape)
    zeros[::2, ::2] = down
    up = 4.0 * blur(zeros)
    assert np.abs(B._up(down, shape) - up).max() < 1e-5
    # the banded full-size steps (threads) are the same steps
    assert np.abs(B._down_full(x) - down).max() < 1e-6
    assert np.abs(B._up_full(down, shape) - B._up(down, shape)).max() < 1e-6
    expected = np.clip(x + B._up(down * 0.1, shape), 0, 1)
    assert np.abs(B._up_full(down * 0.1, shape, base=x) - expected).max() < 1e-6
    assert np.abs(B._up_full(down * 0.1, shape, base=x, out=x) - expected).max() < 1e-6   # in place


def _bands(h: np.ndarray, levels: int) -> list[np.ndarray]:
    bands, g = [], h
    for _ in range(levels):
        low = B._down(g)
        bands.append(g - B._up(low, g.shape))
        g = low
    return bands


def test_coarse_bands_take_the_exemplars_distribution_and_fine_detail_stays():
    ex = stones(256, 3)[..., 3]
    bands = B.exemplar_bands(ex)
    # a periodic height of the exemplar's kind, squeezed and with a broad undulation added (what the
    # Poisson join does to a wall's levels): its coarse bands are off, its values far from 0 and 1
    tile = stones(256, 4)[..., 3]
    y, x = np.mgrid[0:256, 0:256] / 256.0
    wave = np.sin(2 * np.pi * (3 * x + 2 * y)) * np.cos(2 * np.pi * 5 * y)
    height = (0.4 * tile + 0.3 + 0.08 * wave).astype(np.float32)
    matched = B.match_bands(height, bands)
    before, after = _bands(height, 6), _bands(matched, 6)
    grid = (np.arange(B.QUANTILES) + 0.5) / B.QUANTILES
    for k, level in enumerate(range(B.FIRST_LEVEL, 5)):
        target = bands.quantiles[k]
        w1_before = np.abs(np.quantile(before[level], grid) - target).mean()
        w1_after = np.abs(np.quantile(after[level], grid) - target).mean()
        assert w1_after < 0.5 * w1_before, (level, w1_before, w1_after)
    # the finest detail is the height's own: its finest band is kept, pixel for pixel
    assert np.corrcoef(before[0].ravel(), after[0].ravel())[0, 1] > 0.9


def test_matched_height_stays_on_the_torus():
    height = np.clip(P.poisson_join(stones(160, 5)[..., 3], Q.synthesize(Q.analyse(stones(160, 5)), 128, 96, 2)),
                     0, 1)
    matched = B.match_bands(height, B.exemplar_bands(stones(160, 5)[..., 3]))
    assert matched.shape == height.shape and matched.dtype == np.float32
    assert 0.0 <= matched.min() and matched.max() <= 1.0
    # across the wrap the height continues like anywhere inside: no seam was made
    inside = np.abs(np.diff(matched, axis=0)).mean()
    assert np.abs(matched[0] - matched[-1]).mean() < 2.0 * inside
    inside = np.abs(np.diff(matched, axis=1)).mean()
    assert np.abs(matched[:, 0] - matched[:, -1]).mean() < 2.0 * inside


def test_joined_stone_heights_cuts_stay_hidden():
    ex = stones(256, 1)
    analysis, bands = Q.analyse(ex), B.exemplar_bands(ex[..., 3])
    for seed in range(3):
        coords = Q.synthesize(analysis, 192, 192, seed)
        matched = B.match_bands(P.poisson_join(ex[..., 3], coords), bands)
        assert cut_visibility(coords, matched, ex[..., 3]) <= 1.2


def test_small_or_flat_inputs_pass_through_finite():
    height = stones(64, 2)[..., 3]
    tiny = np.ascontiguousarray(height[:24, :24])
    assert np.array_equal(B.match_bands(tiny, B.exemplar_bands(height)), tiny)   # no band that coarse: unchanged
    assert len(B.exemplar_bands(height[:20, :20]).quantiles) == 0                 # an exemplar too small for one
    assert np.array_equal(B.match_bands(height, B.exemplar_bands(height[:20, :20])), height)
    flat = B.match_bands(height, B.exemplar_bands(np.full((128, 128), 0.5, np.float32)))
    assert np.isfinite(flat).all() and flat.min() >= 0.0 and flat.max() <= 1.0


@pytest.mark.parametrize("size", [1, 2, 7, 1000, 65536])
def test_quantiles_are_numpys(size):
    """One sort and numpy's linear interpolation: np.quantile's figures bit for bit, ties and both dtypes."""
    rng = np.random.default_rng(size)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal(size).astype(dtype)
        x[::3] = x[0]   # ties
        q = B._quantile_grid()
        assert np.array_equal(B.quantiles(x, q), np.quantile(x, q))
        assert np.array_equal(B.quantiles(x.reshape(1, -1), [0.0, 0.25, 1.0]), np.quantile(x, [0.0, 0.25, 1.0]))
