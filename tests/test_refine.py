"""Exemplar-guided refinement (core.synthesis.refine and its torch twin): periodicity, determinism per seed,
one field for all maps, both engines alike, guide layout, bounded analysis. Tiny procedural
exemplars only, so every test runs in a few seconds on a CPU."""
from __future__ import annotations

import numpy as np
import pytest

from blender_texgan.core.synthesis import exemplar_analysis as EA
from blender_texgan.core.synthesis import read_field as RF
from blender_texgan.core.synthesis import refine as R
from blender_texgan.core.tiling import seam_ratio


def brick_stack(size: int = 64, seed: int = 0) -> np.ndarray:
    """A periodic (size, size, 5) brick wall: albedo RGB, height, roughness in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    row = y // 8
    shifted = (x + (row % 2) * 8) % size
    mortar = (y % 8 == 0) | (shifted % 16 == 0)
    tone = rng.uniform(0.35, 0.75, (size // 8) * (size // 16))[row * (size // 16) + shifted // 16]
    noise = rng.normal(0.0, 0.04, (size, size))
    albedo = np.where(mortar, 0.8, tone)[..., None] * np.array([1.0, 0.55, 0.4]) + noise[..., None]
    height = np.where(mortar, 0.2, 0.8) + noise
    rough = np.where(mortar, 0.9, 0.5) + 0.5 * noise
    return np.clip(np.dstack([albedo, height, rough]), 0, 1).astype(np.float32)


def two_tone_stack(size: int = 64, seed: int = 1) -> np.ndarray:
    """Dark speckled stone in the left half, bright in the right (all five channels follow)."""
    rng = np.random.default_rng(seed)
    base = np.where(np.arange(size) < size // 2, 0.2, 0.8)[None, :].repeat(size, 0)
    value = np.clip(base + rng.normal(0.0, 0.06, (size, size)), 0, 1)
    return np.repeat(value[..., None], 5, axis=2).astype(np.float32)


@pytest.fixture(scope="module")
def bricks():
    ex = brick_stack()
    return ex, EA.analyse(ex)


def coherent_extent(coords: np.ndarray) -> float:
    """Side (sqrt of the area) of the largest 4-connected region copied rigidly (coords - position constant)."""
    h, w = coords.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    key = (coords[..., 0] - ys) * 100003 + (coords[..., 1] - xs)
    label = np.arange(h * w).reshape(h, w)
    while True:
        new = label.copy()
        for axis in (0, 1):
            for shift in (1, -1):
                same = np.roll(key, shift, axis) == key
                border = np.zeros((h, w), bool)
                index = [slice(None)] * 2
                index[axis] = 0 if shift == 1 else -1
                border[tuple(index)] = True  # the output itself is not treated as periodic
                new = np.where(same & ~border, np.minimum(new, np.roll(new, shift, axis)), new)
        if np.array_equal(new, label):
            return float(np.sqrt(np.bincount(label.ravel()).max()))
        label = new


# ---------------------------------------------------------------- analysis

def test_analysis_arrays_are_bounded_typed_and_round_trip(bricks):
    ex, analysis = bricks
    tensors = analysis.to_tensors()
    assert all(isinstance(v, np.ndarray) for v in tensors.values())
    assert sum(v.nbytes for v in tensors.values()) <= 16 * ex.shape[0] * ex.shape[1] + 65536
    assert all(a.dtype == np.int8 for a in analysis.appearance)
    assert all(s.dtype == np.int32 for s in analysis.similar) and analysis.mix.dtype == np.int8
    for i, a in enumerate(analysis.appearance):
        assert a.shape[0] * a.shape[1] <= EA.MAX_FEATURE_PIXELS
        assert a.shape[:2] == analysis.level_shape(int(analysis.first_level) + i)
    back = EA.ExemplarAnalysis.from_tensors(tensors)
    assert all(np.array_equal(tensors[k], v) for k, v in back.to_tensors().items())
    broken = dict(tensors)
    broken.pop("refine.similar.0")
    with pytest.raises(ValueError, match="similar.0"):
        EA.ExemplarAnalysis.from_tensors(broken)


def test_analysis_skips_levels_that_are_too_large():
    ex = brick_stack(128)
    analysis = EA.analyse(ex, max_feature_pixels=64 * 64)
    assert int(analysis.first_level) == 1
    assert sum(v.nbytes for v in analysis.to_tensors().values()) <= 16 * 64 * 64 + 65536


# ---------------------------------------------------------------- synthesis

def test_deterministic_per_seed_and_seeds_differ(bricks):
    _, analysis = bricks
    a = R.synthesize(analysis, 96, 64, seed=7)
    assert a.shape == (96, 64, 2) and a.dtype == np.int32
    assert np.array_equal(a, R.synthesize(analysis, 96, 64, seed=7))
    assert (a != R.synthesize(analysis, 96, 64, seed=8)).any(-1).mean() > 0.5


def test_output_tiles_seamlessly(bricks):
    ex, analysis = bricks
    for soften in (0, 2):
        out = RF.apply_field(ex, R.synthesize(analysis, 128, 128, seed=3), soften=soften)
        assert seam_ratio(out) < 1.5


def test_steps_read_the_output_as_a_torus(bricks):
    _, analysis = bricks
    coords = R.synthesize(analysis, 64, 64, seed=2, max_correct_pixels=32 * 32)
    level = int(analysis.first_level)
    tables = R.level_tables(analysis, level)
    p = R.plan(analysis, 64, 64)
    cy, cx = coords[..., 0] % tables.shape[0], coords[..., 1] % tables.shape[1]
    shift = (6, -10)  # even: the sub-pass parity classes map onto themselves
    ry, rx = np.roll(cy, shift, (0, 1)), np.roll(cx, shift, (0, 1))
    for phase in R.SUBPASSES:
        R.correct_subpass(tables, cy, cx, phase, p)
        R.correct_subpass(tables, ry, rx, phase, p)
    assert np.array_equal(np.roll(cy, shift, (0, 1)), ry) and np.array_equal(np.roll(cx, shift, (0, 1)), rx)
    up = R.upsample(cy, cx, (64, 64))
    up_rolled = R.upsample(ry, rx, (64, 64))
    assert all(np.array_equal(np.roll(a, (12, -20), (0, 1)), b) for a, b in zip(up, up_rolled))


def test_softening_wraps_and_keeps_patch_interiors(bricks):
    ex, analysis = bricks
    coords = R.synthesize(analysis, 64, 64, seed=5)
    soft = RF.apply_field(ex, coords, soften=1)
    rolled = RF.apply_field(ex, np.roll(coords, (9, 30), (0, 1)), soften=1)
    assert np.array_equal(np.roll(soft, (9, 30), (0, 1)), rolled)
    near_x, near_y = RF.patch_cuts(coords, 1)
    interior = ~(near_x | near_y)
    assert interior.mean() > 0.2
    assert np.array_equal(soft[interior], RF.apply_field(ex, coords)[interior])


def test_all_maps_share_one_field(bricks):
    ex, analysis = bricks
    stack = ex.copy()
    stack[..., 3] = stack[..., 0]  # height == albedo red
    coords = R.synthesize(analysis, 64, 64, seed=11)
    for soften in (0, 1, 2):
        out = RF.apply_field(stack, coords, soften=soften)
        assert np.array_equal(out[..., 3], out[..., 0])


def test_verbatim_copies_stay_small():
    ex = brick_stack(128, seed=4)
    analysis = EA.analyse(ex)
    for seed in range(2):
        coords = R.synthesize(analysis, 256, 256, seed=seed)
        assert coherent_extent(coords) <= min(ex.shape[:2]) / 4


def test_guide_sets_the_layout():
    ex = two_tone_stack()
    analysis = EA.analyse(ex)
    guide = np.repeat(np.where(np.arange(16) < 8, 0.2, 0.8)[None, :, None], 16, 0).repeat(5, 2)
    for seed in range(2):
        coords = R.synthesize(analysis, 64, 64, seed=seed, guide=guide.astype(np.float32))
        out = RF.apply_field(ex, coords)[..., 0]
        assert out[:, 4:28].mean() < 0.3 and out[:, 36:60].mean() > 0.7
        assert (coords[:, 4:28, 1] < 32).mean() > 0.9 and (coords[:, 36:60, 1] >= 32).mean() > 0.9


def test_non_periodic_exemplar_keeps_off_its_border():
    ex = brick_stack(64)[:, ::-1][7:57, 3:61]  # a crop: no longer periodic
    analysis = EA.analyse(ex)
    assert not int(analysis.periodic)
    coords = R.synthesize(analysis, 64, 64, seed=1)
    h, w = analysis.level_shape(0)
    assert coords[..., 0].min() >= EA.BORDER_MARGIN and coords[..., 0].max() < h - EA.BORDER_MARGIN
    assert coords[..., 1].min() >= EA.BORDER_MARGIN and coords[..., 1].max() < w - EA.BORDER_MARGIN


def test_bad_requests_are_refused(bricks):
    _, analysis = bricks
    with pytest.raises(ValueError, match="multiple of 2"):
        R.synthesize(EA.analyse(brick_stack(64), max_feature_pixels=32 * 32), 63, 64, seed=0)
    with pytest.raises(ValueError, match="guide"):
        R.synthesize(analysis, 64, 64, seed=0, guide=np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError):
        R.synthesize(analysis, 64, 64, seed=0, jitter=2.0)


# ---------------------------------------------------------------- the torch twin

@pytest.mark.parametrize("size, guided", [((64, 64), False), ((128, 64), False), ((64, 96), True)])
def test_torch_twin_makes_the_same_field(bricks, size, guided):
    pytest.importorskip("torch")
    from blender_texgan.engine.nets.refine_torch import synthesize_torch
    ex, analysis = bricks
    guide = R.resize_periodic(np.roll(ex, (5, 17), (0, 1)), 16, 16) if guided else None
    a = R.synthesize(analysis, *size, seed=21, guide=guide)
    b = synthesize_torch(analysis, *size, seed=21, guide=guide, device="cpu")
    assert b.dtype == np.int32 and np.array_equal(a, b)


def test_torch_twin_keeps_off_a_non_periodic_border():
    pytest.importorskip("torch")
    from blender_texgan.engine.nets.refine_torch import synthesize_torch
    analysis = EA.analyse(brick_stack(64)[5:59, 2:62], periodic=False)
    assert np.array_equal(R.synthesize(analysis, 64, 64, seed=4), synthesize_torch(analysis, 64, 64, seed=4))


# ---------------------------------------------------------------- fields in bands

def test_rows_of_a_large_field_follow_from_its_coarse_level(bricks):
    """What a banded reader relies on: the finest levels only upsample, so any rows of the full
    field (wrapped, in any order) come from the coarse field alone, equal to upsampling it whole."""
    _, analysis = bricks
    coarse = R.synthesize_coarse(analysis, 1024, 512, seed=4, max_correct_pixels=64 * 64)
    assert coarse.level >= 1 and coarse.shape == (1024, 512)
    cy, cx = coarse.cy, coarse.cx
    for level in range(coarse.level - 1, -1, -1):
        cy, cx = R.upsample(cy, cx, analysis.level_shape(level))
    whole = np.stack([cy, cx], axis=-1)
    assert np.array_equal(R.synthesize(analysis, 1024, 512, seed=4, max_correct_pixels=64 * 64), whole)
    rows = np.array([1023, 0, 1, 517, -2, 3000])
    assert np.array_equal(R.expand_rows(coarse, rows), whole[rows % 1024])


def test_a_band_snaps_to_the_lattice_as_the_whole_field_does():
    from blender_texgan.core.synthesis.lattice import residue_counts, snap_to_lattice

    rng = np.random.default_rng(0)
    field = rng.integers(0, 200, (300, 257, 2)).astype(np.int32)
    field[..., 0] = (field[..., 0] // 3 + np.arange(300)[:, None]) % 200  # a common row offset to find
    whole = snap_to_lattice(field, (16, 24), (200, 200), False)
    counts = [c for c in residue_counts(field[:150], (16, 24), np.arange(150))]
    counts = [a + b for a, b in zip(counts, residue_counts(field[150:], (16, 24), np.arange(150, 300)))]
    rows = np.array([299, 0, 1, 150, 77])
    band = snap_to_lattice(field[rows], (16, 24), (200, 200), False, rows=rows, height=300, counts=counts)
    assert np.array_equal(band, whole[rows])


def test_steps_over_a_level_in_groups_choose_as_in_one(bricks, monkeypatch):
    """The guide's description, the guided tile choice and every correction sub-pass work a group of rows at a time (bounded
    memory on a large level): any group size gives the same field."""
    _, analysis = bricks
    guide = np.random.default_rng(3).random((48, 32, 5)).astype(np.float32)
    whole = R.synthesize(analysis, 192, 128, seed=2, guide=guide)
    monkeypatch.setattr(R, "CHUNK_PIXELS", 700)
    assert np.array_equal(R.synthesize(analysis, 192, 128, seed=2, guide=guide), whole)
