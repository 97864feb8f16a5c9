"""Patches joined along the material's joints (core.synthesis.quilt): element size, exact periodicity, cuts
in the mortar, height without steps, the cut-visibility measure against the previous synthesis, and
one field on both engines. Small procedural stone and brick fixtures: seconds on a CPU."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from blender_texgan.core.normals import normal_from_height
from blender_texgan.core.synthesis import exemplar_analysis as EA
from blender_texgan.core.synthesis import poisson as P
from blender_texgan.core.synthesis import quilt as Q
from blender_texgan.core.synthesis import read_field as RF
from blender_texgan.core.synthesis import refine as R
from blender_texgan.core.synthesis.lattice import course_periods, lattice_positions, layout_periods
from blender_texgan.core.synthesis.threads import alongside
from trainer.metrics import cut_visibility, cut_visibility_metrics


def bricks(height: int = 256, width: int = 320, brick=(24, 48), mortar: int = 4, seed: int = 0,
           setts: bool = False):
    """A non-periodic (h, w, 5) running-bond wall and its (h, w) mortar mask: bricks of `brick`
    (rows, columns) pixels with per-brick tone and a domed face, mortar low, dark and even. With
    setts, every course starts at its own random offset: a repeat in rows only."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    course = y // brick[0]
    offsets = rng.integers(0, brick[1], height // brick[0] + 1) if setts else (np.arange(height // brick[0] + 1) % 2) * (brick[1] // 2)
    shifted = x + offsets[course]
    in_y, in_x = y % brick[0], shifted % brick[1]
    joint = (in_y < mortar) | (in_x < mortar)
    index = course * (width // brick[1] + 2) + shifted // brick[1]
    tone = rng.uniform(0.3, 0.8, index.max() + 1)[index]
    dome = np.minimum(in_y - mortar, brick[0] - in_y) / brick[0] + np.minimum(in_x - mortar, brick[1] - in_x) / brick[1]
    noise = rng.normal(0.0, 0.03, (height, width))
    albedo = np.where(joint, 0.25, tone)[..., None] * np.array([1.0, 0.6, 0.45]) + noise[..., None]
    relief = np.where(joint, 0.1, 0.6 + 0.6 * dome) + noise
    rough = np.where(joint, 0.9, 0.55) + noise
    return np.clip(np.dstack([albedo, relief, rough]), 0, 1).astype(np.float32), joint


def stones(side: int = 256, cells: int = 40, seed: int = 1) -> np.ndarray:
    """A non-periodic (side, side, 5) dry-stone fixture: Voronoi stones, each with its own tone and
    a dome of its own height, mortar between them."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, side, (cells, 2))
    y, x = np.mgrid[0:side, 0:side]
    d = np.hypot(y[..., None] - points[:, 0], x[..., None] - points[:, 1])
    order = np.sort(d, axis=-1)
    owner = d.argmin(-1)
    gap = order[..., 1] - order[..., 0]
    joint = gap < 6
    level = rng.uniform(0.45, 0.95, cells)[owner]
    dome = np.clip(gap / 30.0, 0, 1) * 0.25
    noise = rng.normal(0.0, 0.02, (side, side))
    tone = rng.uniform(0.45, 0.85, cells)[owner]
    albedo = np.where(joint, 0.3, tone)[..., None] * np.array([0.9, 0.8, 0.7]) + noise[..., None]
    relief = np.where(joint, 0.1, level - 0.25 + dome) + noise
    rough = np.where(joint, 0.9, 0.6) + noise
    return np.clip(np.dstack([albedo, relief, rough]), 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def wall():
    ex, joint = bricks()
    return ex, joint, Q.analyse(ex)


def test_element_size_is_one_brick(wall):
    _, _, analysis = wall
    rows, cols = analysis.element
    assert 16 <= rows <= 24 and 36 <= cols <= 48      # a brick's face between its joints (20 x 44)
    assert Q.patch_size(analysis)[0] >= rows and Q.patch_size(analysis)[1] >= cols


def test_courses_are_found_along_one_axis_only():
    ex, _ = bricks(setts=True)
    assert course_periods(ex) == (24, 0)  # rows repeat every course; random offsets break the columns'
    assert layout_periods(bricks()[0]) == (48, 48)  # running bond: a lattice of two courses
    assert course_periods(stones()) == (0, 0)


@pytest.mark.parametrize("size", [(128, 160), (256, 256)])
def test_field_is_deterministic_in_range_and_continues_across_the_wrap(wall, size):
    ex, _, analysis = wall
    coords = Q.synthesize(analysis, *size, seed=4)
    assert coords.shape == size + (2,) and coords.dtype == np.int32
    assert np.array_equal(coords, Q.synthesize(analysis, *size, seed=4))
    assert (coords != Q.synthesize(analysis, *size, seed=5)).any(-1).mean() > 0.5
    assert coords[..., 0].min() >= 0 and coords[..., 0].max() < ex.shape[0]
    assert coords[..., 1].min() >= 0 and coords[..., 1].max() < ex.shape[1]
    across_x, across_y = Q.border_pairs(coords)
    # the wrap lines are crossed by cuts like any line, never a straight seam of their own
    assert across_x[:, -1].mean() <= 0.1 and across_y[-1].mean() <= 0.1
    # rolling the torus rolls the borders: reads wrap, so the tiled output has no other seam
    rolled = np.roll(coords, (size[0] // 3, size[1] // 5), (0, 1))
    assert np.array_equal(np.roll(across_x, (size[0] // 3, size[1] // 5), (0, 1)), Q.border_pairs(rolled)[0])


def test_cuts_run_in_the_mortar(wall):
    ex, joint, analysis = wall
    coords = Q.synthesize(analysis, 256, 256, seed=2)
    near_joint = joint | np.roll(joint, 1, 0) | np.roll(joint, -1, 0) | np.roll(joint, 1, 1) | np.roll(joint, -1, 1)
    across_x, across_y = Q.border_pairs(coords)
    inside = []
    for across, axis in ((across_x, 1), (across_y, 0)):
        ys, xs = np.nonzero(across)
        ny, nx = (ys + (axis == 0)) % 256, (xs + (axis == 1)) % 256
        a = near_joint[coords[ys, xs, 0], coords[ys, xs, 1]]
        b = near_joint[coords[ny, nx, 0], coords[ny, nx, 1]]
        inside.append(a & b)
    share = np.concatenate(inside).mean()
    assert share >= 0.9, share


def test_courses_stay_straight(wall):
    ex, joint, analysis = wall
    coords = Q.synthesize(analysis, 240, 256, seed=6)
    rows_mod = (coords[..., 0] - np.arange(240)[:, None]) % 24
    assert np.bincount(rows_mod.ravel(), minlength=24).max() / rows_mod.size >= 0.97


def test_poisson_height_has_no_step_and_keeps_relief():
    """Two patches from a low and a high part of the exemplar: copied, their borders step; joined in
    the gradient domain, the steps are gone and inside each patch the relief (every pixel's slope)
    is the copy's."""
    rng = np.random.default_rng(0)
    ex = (np.where(np.arange(256) < 128, 0.25, 0.75)[:, None] + 0.05 * rng.normal(size=(256, 64))).astype(np.float32)
    ys, xs = np.mgrid[0:96, 0:128]
    coords = np.stack([ys + np.where(xs < 64, 10, 150), xs % 64], -1)
    copied = ex[coords[..., 0], coords[..., 1]]
    joined = P.poisson_join(ex, coords)
    step = lambda h: np.abs(h[:, 64] - h[:, 63]).mean()  # noqa: E731
    typical = np.abs(np.diff(copied[:, 10:50], axis=1)).mean()
    assert step(copied) > 4 * typical
    assert step(joined) < 1.5 * typical
    inside = slice(8, 56)
    slope_copy, slope_joined = np.diff(copied[:, inside], axis=1), np.diff(joined[:, inside], axis=1)
    assert np.corrcoef(slope_copy.ravel(), slope_joined.ravel())[0, 1] > 0.95
    assert abs(joined[:, inside].std() / copied[:, inside].std() - 1) < 0.2


def test_poisson_height_of_a_whole_periodic_copy_is_the_copy():
    rng = np.random.default_rng(1)
    ex = rng.uniform(0.2, 0.8, (64, 48)).astype(np.float32)
    ys, xs = np.mgrid[0:128, 0:96]
    coords = np.stack([(ys + 5) % 64, (xs + 7) % 48], -1)
    np.testing.assert_allclose(P.poisson_join(ex, coords, periodic=True), ex[coords[..., 0], coords[..., 1]], atol=1e-4)


def _old_and_new(ex: np.ndarray, size: int, seed: int):
    """The previous random-mode synthesis (core.synthesis.refine, rolled, patch borders blended) and the
    joined patches, both read as the engine reads them. Returns [(coords, albedo, height)]."""
    from blender_texgan.engine.generate import JOIN_CONTRAST, PRESERVE_CONTRAST, REFINE_SOFTEN

    old = np.roll(R.synthesize(EA.analyse(ex, periodic=False), size, size, seed), (7, 13), (0, 1))
    new = Q.synthesize(Q.analyse(ex), size, size, seed)
    out = []
    for coords in (old, new):
        keep = PRESERVE_CONTRAST if coords is old else JOIN_CONTRAST
        stack = RF.apply_field(ex, coords, soften=REFINE_SOFTEN, periodic=False, preserve=keep)
        height = stack[..., 3] if coords is old else P.poisson_join(ex[..., 3], coords)
        out.append((coords, stack[..., :3], height))
    return out


def test_cut_visibility_fails_the_old_synthesis_and_passes_the_new():
    ex = stones()
    (oc, oa, oh), (nc, na, nh) = _old_and_new(ex, 256, 3)
    old = cut_visibility(oc, oh, ex[..., 3]), cut_visibility(oc, oa, ex[..., :3])
    new = cut_visibility(nc, nh, ex[..., 3]), cut_visibility(nc, na, ex[..., :3])
    assert max(old) > 1.2, old
    assert max(new) <= 1.2, new


def test_cut_visibility_of_a_straight_cut_through_stones_is_high():
    ex = stones()
    ys, xs = np.mgrid[0:128, 0:128]
    halves = np.stack([(ys * 2) % 256, np.where(xs < 64, xs + 9, xs + 100)], -1)  # straight borders
    height = ex[halves[..., 0], halves[..., 1], 3]
    assert cut_visibility(halves, height, ex[..., 3]) > 1.5


def test_normals_show_no_patch_outline(wall):
    """Across patch borders the joined height tilts the normal as the photo tilts it there (its
    source pixels' own slope), where the copied height steps."""
    ex, _, analysis = wall
    coords = Q.synthesize(analysis, 256, 256, seed=8)
    across_x, across_y = Q.border_pairs(coords)
    border = across_x | across_y
    photo_tilt = 1.0 - normal_from_height(ex[..., 3], 8.0)[..., 2]
    at_source = photo_tilt[coords[..., 0], coords[..., 1]][border].mean()
    joined = 1.0 - normal_from_height(P.poisson_join(ex[..., 3], coords), 8.0)[..., 2]
    copied = 1.0 - normal_from_height(ex[coords[..., 0], coords[..., 1], 3], 8.0)[..., 2]
    assert joined[border].mean() <= 1.2 * at_source
    assert copied[border].mean() > joined[border].mean()


def test_cut_visibility_metrics_average_albedo_and_height():
    ex = stones()
    analysis = Q.analyse(ex)
    fields = [Q.synthesize(analysis, 128, 128, seed) for seed in (1, 2)]
    fake = np.stack([np.moveaxis(RF.apply_field(ex, f), -1, 0) for f in fields])
    out = cut_visibility_metrics(fake, fields, np.moveaxis(ex, -1, 0))
    assert set(out) == {"cut_albedo", "cut_height"} and all(0 < v < 5 for v in out.values())
    assert cut_visibility_metrics(fake, [None, None], np.moveaxis(ex, -1, 0)) == {}


def test_the_export_gate_refuses_a_mode_whose_cuts_show():
    from trainer.quality import choose_mode

    good = {"swd_ratio": 1.0, "seam_ratio": 1.0, "diversity_ratio": 1.0, "bandpass_albedo": 0.1,
            "bandpass_height": 0.1, "coarse_swd": 0.1}
    results = {"baseline": dict(good, bandpass_albedo=0.2), "refined": dict(good, coarse_swd=9.0),
               "random": dict(good, cut_albedo=1.0, cut_height=1.1)}
    assert choose_mode(results) == "random"
    results["random"]["cut_height"] = 1.5
    assert choose_mode(results) == "blend"
    # tiling and blending misses the library's bar: a mode within the structure and cut bars is chosen, but
    # not one that is best on average while losing on one measure (metal_plate_02 at one seed, session 12)
    results["baseline"]["swd_ratio"] = 1.51
    results["random"].update(cut_height=1.1, seam_ratio=1.1)
    assert choose_mode(results) == "random"
    results["random"].update(bandpass_albedo=0.223, bandpass_height=0.01, coarse_swd=0.01)
    assert choose_mode(results) == "blend"


def test_the_export_gate_decides_on_metrics_averaged_over_its_seeds(monkeypatch):
    """One seed's held-out crops made joined patches look worse than tiling and blending; averaged over
    the seeds they do not, and the gate chooses on the average."""
    import trainer.quality as quality

    good = {"swd_ratio": 1.0, "seam_ratio": 1.0, "diversity_ratio": 1.0, "bandpass_height": 0.1, "coarse_swd": 0.1,
            "cut_albedo": 0.9, "cut_height": 1.0}
    by_seed = {1: {"random": dict(good, bandpass_albedo=1.64, verbatim_fraction=0.2),
                   "baseline": dict(good, bandpass_albedo=1.47, verbatim_fraction=0.3), "crop": 64, "side": 128},
               2: {"random": dict(good, bandpass_albedo=0.40, verbatim_fraction=0.25, extra=1.0),
                   "baseline": dict(good, bandpass_albedo=1.20, verbatim_fraction=0.1), "crop": 64, "side": 128}}
    monkeypatch.setattr(quality, "compare_modes", lambda model, data, scale, count, seed, modes: by_seed[seed])
    assert quality.choose_mode(dict(by_seed[1], refined=by_seed[1]["random"])) == "blend"
    averaged = quality.compare_modes_over("m", None, 1, 4, (1, 2), modes=("random",))
    assert (averaged["crop"], averaged["side"], averaged["random"]["seeds"]) == (64, 128, 2)
    assert averaged["random"]["bandpass_albedo"] == pytest.approx(1.02)
    assert averaged["random"]["verbatim_fraction"] == 0.25   # the largest copy, not the mean
    assert "extra" not in averaged["random"]   # measured at one seed only
    assert quality.choose_mode(dict(averaged, refined=dict(averaged["random"], coarse_swd=9.0))) == "random"


def test_samples_are_measured_on_crops_of_what_was_generated():
    from trainer.quality import crops_of, measure_side

    assert [measure_side(c) for c in (32, 96, 128, 256, 512, 768)] == [128, 384, 512, 512, 512, 768]
    assert measure_side(256, (171, 0)) == 512 and measure_side(256, (132, 146)) == 768   # repeats kept
    assert measure_side(256, (300, 0)) == 1024 and measure_side(32, (100, 0)) == 256
    images = np.random.default_rng(0).random((3, 2, 48, 48)).astype(np.float32)
    assert crops_of(images, 48, seed=1) is images
    pieces = crops_of(images, 16, seed=1)
    assert pieces.shape == (3, 2, 16, 16)
    for image, piece in zip(images, pieces):   # each piece is a wrapped window of its own image
        tiled = np.tile(image, (1, 2, 2))
        assert any(np.array_equal(tiled[:, y:y + 16, x:x + 16], piece) for y in range(48) for x in range(48))
    np.testing.assert_array_equal(crops_of(images, 16, seed=1), pieces)   # fixed by the seed


def test_no_verbatim_copy_is_larger_than_one_patch_region():
    """A joined field's copies stay within one patch's region (its cell and overlap): no two patches
    continue one copy. A field that does (one shifted copy over two patches) is over the bound."""
    from trainer.metrics import verbatim_copy_extent

    ex, _ = bricks()
    analysis = Q.analyse(ex)
    for size in (192, 256):
        rows, cols = Q.patch_region(analysis, size, size)
        assert Q.patch_size(analysis)[0] // 2 < rows < size and Q.patch_size(analysis)[1] // 2 < cols < size
        for seed in (1, 2):
            coords = Q.synthesize(analysis, size, size, seed)
            assert verbatim_copy_extent(coords, analysis.shape) <= np.sqrt(rows * cols)
        ys, xs = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
        whole = np.stack([ys % analysis.shape[0], xs % analysis.shape[1]], -1)   # one copy across every patch
        assert verbatim_copy_extent(whole, analysis.shape) > np.sqrt(rows * cols)


def test_a_repeat_is_kept_from_two_tiles_when_the_stretch_is_small():
    from blender_texgan.core.synthesis.lattice import keeps_repeat

    assert keeps_repeat(684, 171) and keeps_repeat(1024, 171)   # four or more repeats: always
    assert keeps_repeat(512, 171) and keeps_repeat(342, 171)    # 3 x 171 = 513, 2 x 171: a stretch under 3 %
    assert not keeps_repeat(256, 70)                            # 3.7 repeats: 9 % stretch
    assert not keeps_repeat(300, 171) and not keeps_repeat(170, 171) and not keeps_repeat(512, 0)
    ex, _ = bricks()
    analysis = Q.analyse(ex)
    period = analysis.periods[1]
    assert period == 48, analysis.periods
    size = 3 * period + 1   # three courses' repeats: the joints stay on one lattice across the output
    coords = Q.synthesize(analysis, size, size, seed=2).astype(np.int64)
    offsets = (coords[..., 1] - lattice_positions(size, period)[None, :]) % period
    assert np.bincount(offsets.ravel(), minlength=period).max() >= 0.9 * offsets.size


def test_stable_order_is_numpys_stable_argsort():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(60, 70)).astype(np.float32)
    values[::7] = 0.0
    values[3, ::5] = -0.0
    values[5] = np.round(values[5], 1)   # ties
    values[9, :4] = [np.inf, -np.inf, 1e-38, -1e-38]
    np.testing.assert_array_equal(Q.stable_order(values), np.argsort(values, axis=None, kind="stable"))


def test_reuse_counts_are_the_earlier_sources_within_reach():
    """The source search's count of earlier sources near a candidate (kept as boxes on a count map) is
    what comparing with every earlier source gives, for reaches met before and after sources were placed."""
    rng = np.random.default_rng(5)
    counts = Q.ReuseCounts((90, 140), 40)
    placed = np.zeros((0, 2), np.int64)
    for step in range(40):
        source = rng.integers(0, (90, 140))
        for reach in (np.array([7.5, 20.0]), np.array([3.0 + step % 3, 11.5])):
            cand = rng.integers(0, (90, 140), size=(64, 2))
            want = Q._near(cand, placed, reach).sum(-1) if len(placed) else np.zeros(64, int)
            assert (counts.of(cand, reach) == want).all()
        counts.add(source)
        placed = np.vstack([placed, source])


def test_poisson_height_band_by_band_is_the_whole_solve(monkeypatch):
    """The solve runs band by band in threads: bands of any height give the same height."""
    ex, _ = bricks()
    coords = Q.synthesize(Q.analyse(ex), 96, 80, seed=3)
    whole = P.poisson_join(ex[..., 3], coords)
    monkeypatch.setattr(P, "FFT_ROWS", 7)
    np.testing.assert_allclose(P.poisson_join(ex[..., 3], coords), whole, atol=2e-6)


def test_maps_read_band_by_band_are_the_whole_field_read(monkeypatch):
    """The engine reads the maps and makes the normals a band at a time: exactly the whole-field read."""
    from blender_texgan.engine import generate as G

    ex, _ = bricks()
    coords = Q.synthesize(Q.analyse(ex), 64, 96, seed=1)
    whole = RF.apply_field(ex, coords, soften=G.REFINE_SOFTEN, periodic=False, preserve=G.JOIN_CONTRAST)
    monkeypatch.setattr(G, "FIELD_PIXELS", 5 * 96)   # bands of 8 rows, threads side by side
    monkeypatch.setattr(G, "NORMAL_PIXELS", 5 * 96)
    maps = G.read_maps(ex, coords, periodic=False)
    assert np.array_equal(maps["albedo"], np.clip(whole[..., :3], 0, 1))
    assert np.array_equal(maps["roughness"], np.clip(whole[..., 4:], 0, 1))
    height = ex[coords[..., 0], coords[..., 1], 3]
    assert np.array_equal(G.banded_normals(height, 6.0), np.clip(normal_from_height(height, 6.0), 0, 1))


def test_both_engines_give_the_same_field():
    """The torch engine runs the very same joins (core.synthesis.quilt is numpy; there is no torch twin), so a
    joined set is the same field and the same maps on both."""
    pytest.importorskip("torch")
    from blender_texgan.engine.generate import GenerationRequest, generate_with_field

    runs = [generate_with_field(GenerationRequest("stone_wall", 128, 5, engine=engine, mode="random"))
            for engine in ("numpy", "torch")]
    assert np.array_equal(runs[0][2], runs[1][2])
    assert all(np.array_equal(runs[0][0][name], runs[1][0][name]) for name in runs[0][0])


def test_alongside_runs_every_band_once_beside_the_callers_work_and_stops_with_it():
    """core.synthesis.threads.alongside: the caller's own work and a worker's bands side by side, every
    band exactly once (the caller takes bands once its work is done); an error in the caller's work drops
    the bands not yet begun and is raised."""
    seen, lock = [], threading.Lock()

    def work(start, stop):
        with lock:
            seen.append((start, stop, threading.get_ident()))

    assert alongside(lambda: "own", 103, 10, work) == "own"
    assert sorted((a, b) for a, b, _ in seen) == [(s, min(103, s + 10)) for s in range(0, 103, 10)]

    seen.clear()
    slow = threading.Event()

    def slow_work(start, stop):
        slow.wait(0.01)
        work(start, stop)

    def fails():
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        alongside(fails, 10_000, 1, slow_work)
    assert len(seen) < 100   # the worker stopped instead of running the 10,000 bands


def test_column_costs_of_no_strips_are_empty():
    """An empty range of strips gives empty cost arrays (the worker's share taken back can be nothing)."""
    ex = bricks(96, 128)[0]
    analysis = Q.analyse(ex)
    plan = Q.layout(analysis, 256, 256)
    sources = Q.choose_sources(analysis, plan, 1)
    cost, crossing = Q.column_costs(analysis, plan, sources, analysis.table, range(0, 0))
    assert cost.shape[0] == 0 and crossing.shape[0] == 0


def test_alongside_raises_a_bands_error_and_stops_the_other_bands():
    done = []

    def work(start, stop):
        if start == 3:
            raise ValueError("band 3")
        done.append(start)

    with pytest.raises(ValueError, match="band 3"):
        alongside(lambda: None, 10_000, 1, work)
    assert len(done) < 9_000   # both threads stopped taking bands
